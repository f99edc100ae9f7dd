//! Server keys for QR tokens and member cards, kept in the database so that
//! every instance sharing it signs and verifies alike, and so that printed
//! cards stay valid across restarts.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use crate::domain::tokens::CardSigner;
use crate::store::Db;

#[derive(Clone)]
pub struct Keys {
    pub qr: Vec<u8>,
    pub cards: CardSigner,
}

impl Keys {
    pub async fn load_or_create(db: &Db) -> anyhow::Result<Keys> {
        let mut qr = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut qr);
        let qr = db
            .meta_get_or_insert("qr_key", &URL_SAFE_NO_PAD.encode(qr))
            .await?;
        let card = db
            .meta_get_or_insert(
                "card_key",
                &URL_SAFE_NO_PAD.encode(CardSigner::generate_secret()),
            )
            .await?;
        let qr = URL_SAFE_NO_PAD
            .decode(qr)
            .context("qr_key in meta is not base64")?;
        let card = URL_SAFE_NO_PAD
            .decode(card)
            .context("card_key in meta is not base64")?;
        let cards = CardSigner::from_bytes(&card).context("card_key in meta is not a P-256 key")?;
        Ok(Keys { qr, cards })
    }
}
