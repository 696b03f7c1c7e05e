// libFuzzer entry point, compiled together with Sources/WireProtocol by scripts/fuzz.sh. The
// input is split into frames (a 2-byte little-endian length before each) and handed to the wire
// decoder, which must reject or accept it without crashing; accepted messages must re-encode to
// frames that decode to the same envelope.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var frames: [[UInt8]] = []
    var i = 0
    while i + 2 <= bytes.count && frames.count < 8 {
        let n = Int(bytes[i]) | Int(bytes[i + 1]) << 8
        i += 2
        let end = min(bytes.count, i + n)
        frames.append(Array(bytes[i..<end]))
        i = end
    }
    if let envelope = try? WireCodec.decode(frames) {
        // Compare bytes, not values: payloads may hold NaNs, which never equal themselves.
        let encoded = WireCodec.encode(envelope)
        guard let again = try? WireCodec.decode(encoded) else { fatalError("re-encoded message does not decode: \(envelope.message.type)") }
        if WireCodec.encode(again) != encoded { fatalError("re-encoding changed the message: \(envelope.message.type)") }
    }
    return 0
}
