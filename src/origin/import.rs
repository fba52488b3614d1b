//! The narrow interface a catalog store offers an import (DESIGN.md §5).
//!
//! The import itself — reading and validating the file, diffing against stored versions,
//! compressing, the GTIN ownership rule, the summary and what running servers must drop —
//! is written once, in `catalog::import`, above this layer. A store only answers "which
//! versions do you hold" ([`CatalogStore::stored_versions`]) and writes what it is given
//! inside one transaction ([`CatalogWrite`]), saying what each record changed.
//!
//! Invariants a store keeps:
//! - Everything written between [`CatalogStore::begin`] and [`CatalogWrite::commit`] is
//!   one transaction: a server sees the old catalog or the new one, never a mix. Dropping
//!   the writer without committing writes nothing.
//! - Content is replaced only when its version differs from the stored one (then with the
//!   record's variants, or compressed on the spot when the record has none), and left
//!   alone with its `updated_at` otherwise. Grants are only ever added.
//! - [`CatalogWrite::commit`] records the [`Invalidation`] in the same transaction, so
//!   running servers hear of exactly what committed.

use bytes::Bytes;

use super::Invalidation;
use crate::compress::Variants;
use crate::domain::{BrandMpn, Gtin14, Locale, Retailer, Sku};

/// A product-locale as stores key content: normalized brand, normalized MPN, locale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentKey<'a> {
    pub brand: &'a str,
    pub mpn: &'a str,
    pub locale: &'a str,
}

/// One product-locale, validated and ready to write.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Where it came from (1-based line of the catalog file), for messages.
    pub line: usize,
    /// The brand and MPN as written, for display.
    pub brand: String,
    pub mpn: String,
    /// The normalized identity.
    pub id: BrandMpn,
    pub eans: Vec<Gtin14>,
    pub skus: Vec<(Retailer, Sku)>,
    pub locale: Locale,
    /// Retailer slugs or `*`: grants of the brand.
    pub retailers: Vec<String>,
    pub html: Bytes,
    /// [`super::content_version`] of `html`.
    pub version: String,
    /// The stored variants; `None` when the store held `version` already as the import
    /// was prepared (nothing was compressed; if it changed since, the store compresses).
    pub variants: Option<Variants>,
}

impl Prepared {
    pub fn key(&self) -> ContentKey<'_> {
        ContentKey {
            brand: &self.id.brand,
            mpn: &self.id.mpn,
            locale: self.locale.as_str(),
        }
    }
}

/// The product an EAN belonged to before a record claimed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The brand as written in the catalog that created the product.
    pub brand: String,
    /// Normalized.
    pub brand_norm: String,
    /// `<brand>/<mpn>`, normalized.
    pub product_id: String,
}

/// What writing one [`Prepared`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// The content was inserted or its version changed.
    pub changed: bool,
    /// The product, an EAN or a SKU was new to the store: answers that found no product
    /// may find this one now.
    pub new_identity: bool,
    /// EANs that moved here from another product, with that product.
    pub moved_eans: Vec<(Gtin14, Owner)>,
    /// Products a SKU of this record was taken from.
    pub moved_skus_from: Vec<String>,
    /// The brand gained a grant it did not have.
    pub new_grant: bool,
}

/// A store that takes catalog imports. Blocking: call it from a blocking context.
pub trait CatalogStore: Send + Sync {
    /// The stored content version of each key (`None`: not stored), in order. Reads the
    /// last committed catalog, outside any import transaction.
    ///
    /// # Errors
    /// The store could not be read.
    fn stored_versions(&self, keys: &[ContentKey<'_>]) -> anyhow::Result<Vec<Option<String>>>;

    /// Starts the one transaction of an import.
    ///
    /// # Errors
    /// The store could not be written (another writer held it past the timeout, say).
    fn begin(&self) -> anyhow::Result<Box<dyn CatalogWrite + '_>>;

    /// Whether the store holds no content at all (then `serve --demo` seeds it).
    ///
    /// # Errors
    /// The store could not be read.
    fn is_empty(&self) -> anyhow::Result<bool>;

    /// How many imports have been committed to this store, ever.
    ///
    /// # Errors
    /// The store could not be read.
    fn change_counter(&self) -> anyhow::Result<i64>;
}

/// An import's open transaction. Dropped without [`Self::commit`]: rolled back.
pub trait CatalogWrite {
    /// Writes `batch` (upserting products, claiming EANs and SKUs for them, writing
    /// changed content, adding grants) and says what each record changed, in order.
    ///
    /// # Errors
    /// A store error; the transaction is then unusable and must be dropped.
    fn write(&mut self, batch: Vec<Prepared>) -> anyhow::Result<Vec<Written>>;

    /// Commits, recording `inv` for running servers in the same transaction and counting
    /// one more import.
    ///
    /// # Errors
    /// The commit failed; nothing was written.
    fn commit(self: Box<Self>, inv: &Invalidation) -> anyhow::Result<()>;
}
