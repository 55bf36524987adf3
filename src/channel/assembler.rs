//! Content assembly (rabbit_command_assembler): after a content-bearing method the channel
//! expects one content header for the same class, then body frames until the declared size
//! is reached. A pure state machine; the channel decides what to do with a finished message.

use crate::error::AmqpError;
use crate::protocol::{BasicPublish, ContentHeader, ReplyCode};
use bytes::Bytes;

/// A message whose header has arrived and whose body is being collected.
#[derive(Debug)]
pub struct PendingContent {
    /// The method that opened it.
    pub publish: BasicPublish,
    /// Property flags and list, as received.
    pub raw_properties: Bytes,
    /// Declared body size.
    pub body_size: u64,
    /// Body chunks so far.
    pub body: Vec<Bytes>,
    received: u64,
}

/// Where the assembler is.
#[derive(Debug, Default)]
pub enum Assembler {
    /// Expecting a method frame.
    #[default]
    Idle,
    /// basic.publish seen; expecting its content header.
    AwaitHeader(BasicPublish),
    /// Header seen; expecting body frames.
    AwaitBody(PendingContent),
}

/// The outcome of feeding a frame.
#[derive(Debug)]
pub enum Assembled {
    /// More frames are needed.
    Incomplete,
    /// The message is complete.
    Complete(PendingContent),
}

fn unexpected(text: String) -> AmqpError {
    AmqpError::new(ReplyCode::UnexpectedFrame, text)
}

impl Assembler {
    /// True while a content is in progress (a method frame now would be out of place).
    pub fn in_progress(&self) -> bool {
        !matches!(self, Assembler::Idle)
    }

    /// RabbitMQ's 505 for a frame that does not fit the current state (another method, a
    /// header or body out of place).
    pub fn out_of_place(&self) -> AmqpError {
        unexpected(
            match self {
                Assembler::Idle => "expected method frame, got non method frame instead",
                Assembler::AwaitHeader(_) => {
                    "expected content header for class 60, got non content header frame instead"
                }
                Assembler::AwaitBody(_) => {
                    "expected content body, got non content body frame instead"
                }
            }
            .to_string(),
        )
    }

    /// basic.publish arrived.
    pub fn start(&mut self, publish: BasicPublish) {
        *self = Assembler::AwaitHeader(publish);
    }

    /// A content header arrived. `max_size` is the largest body accepted.
    pub fn header(&mut self, header: ContentHeader, max_size: u64) -> Result<Assembled, AmqpError> {
        if !matches!(self, Assembler::AwaitHeader(_)) {
            return Err(self.out_of_place());
        }
        let Assembler::AwaitHeader(publish) = std::mem::take(self) else {
            return Err(self.out_of_place());
        };
        if header.class_id != crate::protocol::CLASS_BASIC {
            return Err(unexpected(format!(
                "expected content header for class 60, got one for class {} instead",
                header.class_id
            )));
        }
        if header.body_size > max_size {
            return Err(AmqpError::precondition(format!(
                "message size {} is larger than configured max size {}",
                header.body_size, max_size
            )));
        }
        let content = PendingContent {
            publish,
            raw_properties: header.raw_properties,
            body_size: header.body_size,
            body: Vec::new(),
            received: 0,
        };
        if content.body_size == 0 {
            return Ok(Assembled::Complete(content));
        }
        *self = Assembler::AwaitBody(content);
        Ok(Assembled::Incomplete)
    }

    /// A body frame arrived.
    pub fn body(&mut self, chunk: Bytes) -> Result<Assembled, AmqpError> {
        if !matches!(self, Assembler::AwaitBody(_)) {
            return Err(self.out_of_place());
        }
        let Assembler::AwaitBody(content) = self else {
            return Err(self.out_of_place());
        };
        let received = content.received.saturating_add(chunk.len() as u64);
        content.received = received;
        if received > content.body_size {
            // As RabbitMQ: more body than declared is not an error yet; the message can no
            // longer complete, and the next frame that is not a body is out of place.
            content.body.clear();
            return Ok(Assembled::Incomplete);
        }
        if !chunk.is_empty() {
            content.body.push(chunk);
        }
        if received < content.body_size {
            return Ok(Assembled::Incomplete);
        }
        match std::mem::take(self) {
            Assembler::AwaitBody(done) => Ok(Assembled::Complete(done)),
            _ => Ok(Assembled::Incomplete),
        }
    }
}
