//! Bad input closes only the connection that sent it, with the documented
//! code and reason; the server, the document and every other client carry on.

use bytes::Bytes;
use futures_util::SinkExt;
use plenary::sync::protocol::{self, AwarenessEntry};
use plenary::sync::room::close;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Fixture, Server, TestDb, YrsClient, raw_socket, read_until_close};

fn awareness(entries: &[(u64, &str)]) -> Bytes {
    let entries: Vec<AwarenessEntry> = entries
        .iter()
        .map(|(client, state)| AwarenessEntry {
            client: *client,
            clock: 1,
            state: Some((*state).to_owned()),
        })
        .collect();
    protocol::encode_awareness(&entries)
}

fn binary(bytes: &[u8]) -> Message {
    Message::Binary(Bytes::copy_from_slice(bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_malformed_input_closes_only_its_own_connection() {
    let db = TestDb::sqlite();
    let server = Server::start(
        &db,
        &[
            "--max-frame-bytes",
            "65536",
            "--max-document-bytes",
            "200000",
        ],
    )
    .await;
    let room = Fixture::new(&server).await.room();
    let author = YrsClient::connect(&server, &room).await;
    author.append("t", "Reaffirming the commitment of the Network,");
    let bystander = YrsClient::connect(&server, &room).await;
    bystander
        .wait_for("the text", |c| {
            c.mirror_text("t") == "Reaffirming the commitment of the Network,"
        })
        .await;

    let mut valid_then_truncated = protocol::encode_query_awareness().to_vec();
    valid_then_truncated.extend_from_slice(&[0, 2, 9, 1]);
    let too_many_ids: Vec<(u64, &str)> = (1..=9).map(|client| (client, "{}")).collect();
    let cases: Vec<(&str, Message, u16)> = vec![
        (
            "a truncated varint",
            binary(&[0, 2, 0x80]),
            close::PROTOCOL_ERROR,
        ),
        (
            "a truncated message after a valid one",
            binary(&valid_then_truncated),
            close::PROTOCOL_ERROR,
        ),
        ("an empty frame", binary(&[]), close::PROTOCOL_ERROR),
        (
            "an unknown message type",
            binary(&[9, 0]),
            close::PROTOCOL_ERROR,
        ),
        (
            "an unknown sync message type",
            binary(&[0, 7, 0]),
            close::PROTOCOL_ERROR,
        ),
        (
            "a varint beyond 64 bits",
            binary(&[
                0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ]),
            close::PROTOCOL_ERROR,
        ),
        (
            "an update yrs cannot decode",
            binary(&[0, 2, 4, 0xff, 0xff, 0xff, 0xff]),
            close::INVALID_PAYLOAD,
        ),
        (
            "a state vector yrs cannot decode",
            binary(&[0, 0, 2, 0x05, 0x01]),
            close::INVALID_PAYLOAD,
        ),
        (
            "awareness that is not JSON",
            Message::Binary(awareness(&[(77, "{oops")])),
            close::INVALID_PAYLOAD,
        ),
        (
            "too many awareness client ids",
            Message::Binary(awareness(&too_many_ids)),
            close::POLICY_VIOLATION,
        ),
        (
            "a text frame",
            Message::Text("hello".into()),
            close::UNSUPPORTED_DATA,
        ),
        (
            "a frame over the size limit",
            Message::Binary(Bytes::from(vec![0u8; 70_000])),
            close::TOO_BIG,
        ),
    ];
    for (what, message, expected) in cases {
        let mut socket = raw_socket(&server, &room).await;
        socket.send(message).await.expect("send");
        let (code, reason) = read_until_close(&mut socket).await;
        assert_eq!(code, expected, "{what}: closed with {code} {reason:?}");
        assert!(!reason.is_empty(), "{what}: the close frame says why");
        // The others carry on.
        author.append("t", ".");
        let expected = author.text("t");
        bystander
            .wait_for(&format!("an edit after {what}"), |c| {
                c.mirror_text("t") == expected
            })
            .await;
    }

    // An update that would take the document past its size limit.
    let greedy = YrsClient::connect(&server, &room).await;
    greedy.append("t", &"x".repeat(60_000));
    greedy.append("t", &"y".repeat(60_000));
    greedy.append("t", &"z".repeat(60_000));
    greedy.append("t", &"w".repeat(60_000));
    let (code, reason) = greedy.wait_closed().await;
    assert_eq!(code, close::TOO_BIG, "{reason}");

    // Everyone else carried on, with what was accepted before the limit.
    assert!(author.closed().is_none() && bystander.closed().is_none());
    author
        .wait_for("the accepted updates", |c| {
            c.mirror_text("t").contains(&"z".repeat(60_000))
        })
        .await;
    author.append("t", " and");
    let expected = author.text("t");
    assert!(expected.ends_with(" and") && !expected.contains("www"));
    bystander
        .wait_for("a later edit", |c| c.mirror_text("t") == expected)
        .await;
    let fresh = YrsClient::connect(&server, &room).await;
    assert_eq!(fresh.text("t"), expected);
}
