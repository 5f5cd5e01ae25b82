//! Sources: where archive items come from.

pub mod whatsapp_export;
