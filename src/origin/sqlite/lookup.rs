//! The lookup of DESIGN.md §2 on one connection: identity, grant, locale fallback.

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension as _, params};

use crate::domain::FragmentRequest;
use crate::origin::{Directives, Fragment, Lookup};

const SQL_PRODUCT_BY_EAN: &str = "SELECT p.id, p.brand_norm, p.mpn_norm FROM product_eans e \
     JOIN products p ON p.id = e.product_id WHERE e.gtin14 = ?1";
const SQL_PRODUCT_BY_BRAND_MPN: &str =
    "SELECT id, brand_norm, mpn_norm FROM products WHERE brand_norm = ?1 AND mpn_norm = ?2";
const SQL_PRODUCT_BY_SKU: &str = "SELECT p.id, p.brand_norm, p.mpn_norm FROM retailer_skus s \
     JOIN products p ON p.id = s.product_id WHERE s.retailer = ?1 AND s.sku = ?2";
const SQL_GRANTED: &str =
    "SELECT EXISTS (SELECT 1 FROM grants WHERE brand_norm = ?1 AND retailer IN (?2, '*'))";
const SQL_CONTENT: &str = "SELECT html, gzip, br, version, updated_at FROM content \
     WHERE product_id = ?1 AND locale = ?2";
/// The product a request names: row id, normalized brand, normalized MPN.
type ProductRow = (i64, String, String);

/// The whole lookup of DESIGN.md §2 on one connection: identity, grant, locale.
pub(super) fn lookup(conn: &Connection, req: &FragmentRequest) -> rusqlite::Result<Lookup> {
    let product_row = |row: &rusqlite::Row<'_>| -> rusqlite::Result<ProductRow> {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    };
    let mut product: Option<ProductRow> = None;
    if let Some(ean) = &req.ean {
        product = conn
            .prepare_cached(SQL_PRODUCT_BY_EAN)?
            .query_row([ean.as_str()], product_row)
            .optional()?;
    }
    if product.is_none() {
        if let Some(bm) = &req.brand_mpn {
            product = conn
                .prepare_cached(SQL_PRODUCT_BY_BRAND_MPN)?
                .query_row([&bm.brand, &bm.mpn], product_row)
                .optional()?;
        }
    }
    if product.is_none() {
        if let Some(sku) = &req.sku {
            product = conn
                .prepare_cached(SQL_PRODUCT_BY_SKU)?
                .query_row([req.retailer.as_str(), sku.as_str()], product_row)
                .optional()?;
        }
    }
    let Some((id, brand, mpn)) = product else {
        return Ok(Lookup::NoContent {
            brand: None,
            product_id: None,
        });
    };
    let product_id = format!("{brand}/{mpn}");

    let granted: bool = conn
        .prepare_cached(SQL_GRANTED)?
        .query_row([brand.as_str(), req.retailer.as_str()], |r| r.get(0))?;
    if !granted {
        return Ok(Lookup::NoContent {
            brand: Some(brand),
            product_id: Some(product_id),
        });
    }

    let mut content = conn.prepare_cached(SQL_CONTENT)?;
    for locale in req.locale.fallbacks() {
        let found = content
            .query_row(params![id, locale], |row| {
                Ok((
                    row.get::<_, Vec<u8>>(0)?,
                    row.get::<_, Option<Vec<u8>>>(1)?,
                    row.get::<_, Option<Vec<u8>>>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            })
            .optional()?;
        if let Some((html, gzip, br, version, updated_at)) = found {
            return Ok(Lookup::Found(Fragment {
                html: Bytes::from(html),
                gzip: gzip.map(Bytes::from),
                br: br.map(Bytes::from),
                version,
                updated_at,
                brand,
                product_id,
                validator: None,
                directives: Directives::default(),
            }));
        }
    }
    Ok(Lookup::NoContent {
        brand: Some(brand),
        product_id: Some(product_id),
    })
}
