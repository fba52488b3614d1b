/* synedge loader: fills one element with a product's content, in a shadow root.
 * Never throws into the page; outcomes are `synedge:load` / `synedge:noshow` events on
 * the target and calls to the functions in window.synedgeCallbacks. See the README. */
(() => {
  'use strict';
  const log = (...a) => { try { console.debug('[synedge]', ...a); } catch (_) {} };
  try {
    const script = document.currentScript;
    if (!script || !script.src) return log('no currentScript: load me with <script src>');
    const d = script.dataset;
    const base = new URL(script.src).origin;
    const query = { retailer: d.retailer || '', locale: d.locale || '' };
    for (const k of ['ean', 'brand', 'mpn', 'sku']) if (d[k]) query[k] = d[k];
    let target = d.target ? document.getElementById(d.target) : null;
    if (!target) {
      target = document.createElement('div');
      if (d.target) target.id = d.target;
      script.after(target);
    }

    const emit = (type, extra) => {
      const detail = { ...query, ...extra, target };
      try {
        target.dispatchEvent(new CustomEvent('synedge:' + type, { bubbles: true, detail }));
      } catch (e) { log(e); }
      const cbs = window.synedgeCallbacks;
      if (Array.isArray(cbs)) for (const cb of cbs) {
        try { if (typeof cb === 'function') cb(type, detail); } catch (e) { log('callback failed', e); }
      }
    };
    const beacon = (type) => {
      try {
        const body = new Blob([JSON.stringify({ type, ...query })], { type: 'text/plain' });
        if (!navigator.sendBeacon(new URL('/v1/events', base), body)) log('beacon not queued', type);
      } catch (e) { log('beacon failed', e); }
    };
    const noshow = (reason) => { log('noshow:', reason); emit('noshow', { reason }); };

    // `view`: half of the content visible for one second, reported once. Content taller
    // than twice the viewport counts as visible when it fills half of the viewport.
    const watchView = () => {
      if (!('IntersectionObserver' in window)) return;
      let timer = 0;
      const io = new IntersectionObserver(([e]) => {
        const vh = e.rootBounds ? e.rootBounds.height : innerHeight;
        if (e.intersectionRatio < 0.5 && e.intersectionRect.height < vh / 2) {
          clearTimeout(timer);
          timer = 0;
        } else if (!timer) timer = setTimeout(() => { io.disconnect(); beacon('view'); }, 1000);
      }, { threshold: Array.from({ length: 21 }, (_, i) => i / 20) });
      io.observe(target);
    };

    const url = new URL('/v1/fragment', base);
    url.search = new URLSearchParams(query);
    const abort = new AbortController();
    const timeout = setTimeout(() => abort.abort(), 5000);
    fetch(url, { mode: 'cors', credentials: 'omit', redirect: 'error', signal: abort.signal })
      .then(async (res) => {
        if (new URL(res.url).origin !== base) throw new Error('answer from another origin');
        if (res.status === 204) { beacon('no_match'); return noshow('no content'); }
        if (!res.ok) throw new Error('HTTP ' + res.status);
        // Parsed inert, so relative image URLs are resolved against this edge (not the
        // page) before anything loads.
        const t = document.createElement('template');
        t.innerHTML = await res.text();
        for (const i of t.content.querySelectorAll('img[src]')) i.src = new URL(i.getAttribute('src'), base);
        const root = target.shadowRoot || target.attachShadow({ mode: 'open' });
        root.replaceChildren(t.content);
        root.addEventListener('click', (e) => {
          if (e.target instanceof Element && e.target.closest('a[href]')) beacon('click');
        });
        emit('load');
        beacon('impression');
        watchView();
      })
      .catch((e) => noshow(e && e.name === 'AbortError' ? 'timeout' : String(e && e.message || e)))
      .finally(() => clearTimeout(timeout));
  } catch (e) {
    log('failed', e);
  }
})();
