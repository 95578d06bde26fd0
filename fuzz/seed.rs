//! The document every fuzz target starts from: a short resolution with a
//! preambular paragraph, operative paragraphs and a sub-paragraph, written
//! through the server's own document code.
use plenary::document::{Block, BlockKind, Inline, body_update};
use plenary::sync::crdt::{Replica, decode_update};

pub fn replica() -> Replica {
    quiet_caught_panics();
    let blocks = vec![
        Block::new(
            BlockKind::Preamble,
            vec![
                Inline::italic("Recordando"),
                Inline::plain(" el Protocolo de Palermo,"),
            ],
        ),
        Block::new(
            BlockKind::Operative,
            vec![Inline::plain("Exhorte les États ;")],
        ),
        Block::subparagraph(1, vec![Inline::plain("à protéger les victimes ;")]),
        Block::new(
            BlockKind::Operative,
            vec![Inline::plain("Decide continuar.")],
        ),
    ];
    let mut replica = Replica::empty();
    let raw = body_update(&blocks);
    if let Ok(update) = decode_update(&raw) {
        let _ = replica.apply(update, &raw);
    }
    replica
}

/// yrs panics on some crafted updates; the server catches those panics at
/// its trust boundary (`catch_unwind` in `sync::crdt` and `document`). The
/// fuzzer's own hook would abort at the panic, before that catch: replace it
/// with a silent one, so a panic the server catches is not a crash, while
/// one that escapes still aborts (libfuzzer-sys aborts on an unwinding
/// target).
pub fn quiet_caught_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // PLENARY_FUZZ_PANICS=1 prints every panic, caught or not (the last
    // one printed before a crash is the one that escaped).
    let verbose = std::env::var_os("PLENARY_FUZZ_PANICS").is_some();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(move |info| {
            if verbose {
                eprintln!("{info}\n{}", std::backtrace::Backtrace::force_capture());
            }
        }))
    });
}
