/* The demo retailer page's own script: the README's `synedge:noshow` pattern, hiding
 * the heading above an embed (the element `<target id>-from`) that has nothing to show. */
document.addEventListener('synedge:noshow', (e) => {
  const heading = document.getElementById(e.detail.target.id + '-from');
  if (heading) heading.hidden = true;
});
