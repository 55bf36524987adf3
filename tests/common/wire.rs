//! Encoding and decoding of AMQP method arguments and field tables for the raw client.

/// A decoded field value (enough for assertions).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    I8(i8),
    U8(u8),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    F32(f32),
    F64(f64),
    Decimal(u8, u32),
    Str(Vec<u8>),
    Array(Vec<Value>),
    Timestamp(u64),
    Table(Vec<(String, Value)>),
    Bytes(Vec<u8>),
    Void,
}

impl Value {
    /// Looks a key up when this is a table.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Table(t) => t.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Builds method arguments.
#[derive(Debug, Default, Clone)]
pub struct Args(pub Vec<u8>);

impl Args {
    pub fn new() -> Self {
        Args(Vec::new())
    }
    pub fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    pub fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// Packs consecutive bit arguments into one octet (first bit = lowest).
    pub fn bits(mut self, bits: &[bool]) -> Self {
        let mut octet = 0u8;
        for (i, b) in bits.iter().enumerate() {
            if *b {
                octet |= 1 << i;
            }
        }
        self.0.push(octet);
        self
    }
    pub fn shortstr(mut self, s: &str) -> Self {
        self.0.push(s.len() as u8);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    /// A short string of arbitrary bytes (not necessarily UTF-8).
    pub fn shortstr_bytes(mut self, s: &[u8]) -> Self {
        self.0.push(s.len() as u8);
        self.0.extend_from_slice(s);
        self
    }
    pub fn longstr(mut self, s: &[u8]) -> Self {
        self.0.extend_from_slice(&(s.len() as u32).to_be_bytes());
        self.0.extend_from_slice(s);
        self
    }
    /// An empty field table.
    pub fn empty_table(self) -> Self {
        self.u32(0)
    }
    /// A field table given as already-encoded entry bytes.
    pub fn table_bytes(self, entries: &[u8]) -> Self {
        self.longstr(entries)
    }
    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    pub fn build(self) -> Vec<u8> {
        self.0
    }
}

/// Reads method arguments.
#[derive(Debug)]
pub struct Reader {
    data: Vec<u8>,
    pos: usize,
}

impl Reader {
    pub fn new(data: &[u8]) -> Self {
        Reader {
            data: data.to_vec(),
            pos: 0,
        }
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        s
    }
    pub fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.take(2).try_into().unwrap())
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take(4).try_into().unwrap())
    }
    pub fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take(8).try_into().unwrap())
    }
    pub fn shortstr(&mut self) -> String {
        let n = self.u8() as usize;
        String::from_utf8_lossy(self.take(n)).into_owned()
    }
    pub fn longstr(&mut self) -> Vec<u8> {
        let n = self.u32() as usize;
        self.take(n).to_vec()
    }
    pub fn table(&mut self) -> Vec<(String, Value)> {
        let n = self.u32() as usize;
        let mut inner = Reader::new(self.take(n));
        let mut out = Vec::new();
        while inner.pos < inner.data.len() {
            let k = inner.shortstr();
            let v = inner.value();
            out.push((k, v));
        }
        out
    }
    pub fn value(&mut self) -> Value {
        match self.u8() {
            b't' => Value::Bool(self.u8() != 0),
            b'b' => Value::I8(self.u8() as i8),
            b'B' => Value::U8(self.u8()),
            b's' | b'U' => Value::I16(self.u16() as i16),
            b'u' => Value::U16(self.u16()),
            b'I' => Value::I32(self.u32() as i32),
            b'i' => Value::U32(self.u32()),
            b'l' | b'L' => Value::I64(self.u64() as i64),
            b'f' => Value::F32(f32::from_bits(self.u32())),
            b'd' => Value::F64(f64::from_bits(self.u64())),
            b'D' => {
                let scale = self.u8();
                Value::Decimal(scale, self.u32())
            }
            b'S' => Value::Str(self.longstr()),
            b'A' => {
                let n = self.u32() as usize;
                let mut inner = Reader::new(self.take(n));
                let mut out = Vec::new();
                while inner.pos < inner.data.len() {
                    out.push(inner.value());
                }
                Value::Array(out)
            }
            b'T' => Value::Timestamp(self.u64()),
            b'F' => Value::Table(self.table()),
            b'x' => Value::Bytes(self.longstr()),
            b'V' => Value::Void,
            other => panic!("unknown field type {other:#x}"),
        }
    }
    pub fn rest(&self) -> &[u8] {
        &self.data[self.pos..]
    }
}

/// Encodes one frame.
pub fn frame(typ: u8, channel: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.push(typ);
    out.extend_from_slice(&channel.to_be_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out.push(super::raw::FRAME_END);
    out
}

/// Encodes a method frame.
pub fn method_frame(channel: u16, class: u16, method: u16, args: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(args.len() + 4);
    payload.extend_from_slice(&class.to_be_bytes());
    payload.extend_from_slice(&method.to_be_bytes());
    payload.extend_from_slice(args);
    frame(super::raw::FRAME_METHOD, channel, &payload)
}

/// Encodes a basic content header frame with no properties.
pub fn header_frame(channel: u16, body_size: u64) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend_from_slice(&60u16.to_be_bytes());
    payload.extend_from_slice(&0u16.to_be_bytes());
    payload.extend_from_slice(&body_size.to_be_bytes());
    payload.extend_from_slice(&0u16.to_be_bytes());
    frame(super::raw::FRAME_HEADER, channel, &payload)
}

/// Encodes a basic.publish method frame.
pub fn publish_frame(channel: u16, exchange: &str, rk: &str, mandatory: bool) -> Vec<u8> {
    let args = Args::new()
        .u16(0)
        .shortstr(exchange)
        .shortstr(rk)
        .bits(&[mandatory, false])
        .build();
    method_frame(channel, 60, 40, &args)
}
