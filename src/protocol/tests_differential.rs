//! Differential tests against amq-protocol (the codec lapin uses): what we encode it decodes
//! and re-encodes to the same bytes, and what it encodes we decode to the same value. Runs
//! over every method via the generated strategies. amq-protocol needs UTF-8 short strings and
//! keeps tables sorted without duplicates (`Flavor::Canonical`), and always writes the
//! deprecated fields (ticket, insist, known-hosts, prefetch-size, ...) as constants, so those are
//! normalised before comparing.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::generated_strategies::any_method;
use super::test_support::Flavor;
use super::*;
use amq_protocol::frame::{AMQPFrame, WriteContext, gen_frame, parse_frame};
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

/// Sets the fields amq-protocol does not model to the values it writes for them.
fn deprecated_to_default(method: &mut Method) {
    match method {
        Method::ConnectionOpen(m) => {
            m.capabilities = ShortStr::default();
            m.insist = false;
        }
        Method::ConnectionOpenOk(m) => m.known_hosts = ShortStr::default(),
        Method::ChannelOpen(m) => m.out_of_band = ShortStr::default(),
        Method::ChannelOpenOk(m) => m.channel_id = Bytes::new(),
        Method::BasicGetEmpty(m) => m.cluster_id = ShortStr::default(),
        Method::BasicQos(m) => m.prefetch_size = 0,
        Method::AccessRequestOk(m) => m.ticket = 1,
        Method::BasicConsume(m) => m.ticket = 0,
        Method::BasicPublish(m) => m.ticket = 0,
        Method::BasicGet(m) => m.ticket = 0,
        Method::ExchangeDeclare(m) => m.ticket = 0,
        Method::ExchangeDelete(m) => m.ticket = 0,
        Method::ExchangeBind(m) => m.ticket = 0,
        Method::ExchangeUnbind(m) => m.ticket = 0,
        Method::QueueDeclare(m) => m.ticket = 0,
        Method::QueueBind(m) => m.ticket = 0,
        Method::QueuePurge(m) => m.ticket = 0,
        Method::QueueDelete(m) => m.ticket = 0,
        Method::QueueUnbind(m) => m.ticket = 0,
        _ => {}
    }
}

fn theirs_reencode(bytes: &[u8]) -> Vec<u8> {
    let (rest, frame) = parse_frame(bytes).unwrap();
    assert!(rest.is_empty(), "amq-protocol left {} bytes", rest.len());
    let (out, _) = gen_frame::<Vec<u8>>(&frame)(WriteContext::from(Vec::new()))
        .unwrap()
        .into_inner();
    if let AMQPFrame::Method(channel, class) = &frame {
        assert_eq!(*channel, 7);
        let _ = class;
    }
    out
}

proptest! {
    #[test]
    fn methods_agree_with_amq_protocol(mut method in any_method(Flavor::Canonical)) {
        deprecated_to_default(&mut method);
        let mut ours = BytesMut::new();
        write_method_frame(&mut ours, 7, &method);
        let theirs = theirs_reencode(&ours);
        prop_assert_eq!(&theirs[..], &ours[..], "{}", method.name());
        let mut buf = BytesMut::from(&theirs[..]);
        let frame = read_frame(&mut buf, 0).unwrap().unwrap();
        prop_assert_eq!(Method::decode(frame.payload).unwrap(), method);
    }

    #[test]
    fn properties_agree_with_amq_protocol(props in Flavor::Canonical.properties(), body_size in any::<u64>()) {
        let mut ours = BytesMut::new();
        write_content_header_frame(&mut ours, 7, CLASS_BASIC, body_size, &props.to_raw());
        let theirs = theirs_reencode(&ours);
        prop_assert_eq!(&theirs[..], &ours[..]);
        let mut buf = BytesMut::from(&theirs[..]);
        let frame = read_frame(&mut buf, 0).unwrap().unwrap();
        let header = ContentHeader::decode(frame.payload).unwrap();
        prop_assert_eq!(header.body_size, body_size);
        prop_assert_eq!(header.properties().unwrap(), props);
    }
}
