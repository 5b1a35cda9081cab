// Coverage-guided fuzzing (libFuzzer) of what Vigil reads from outside: request bodies, the headers and dates a
// webhook receiver sends back, timestamps, and every text check. Any trap (an overflowing conversion, an index out
// of range) is a crash that libFuzzer reports with the input that caused it. Built by scripts/fuzz.sh.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    _ = try? Input.start(bytes)
    _ = try? Input.start(bytes, country: .us)
    _ = try? Input.patch(bytes, country: .ca)
    _ = PhoneNumber.e164(text, defaultCountry: .us)
    _ = try? Input.checkIn(bytes)
    _ = try? Input.acknowledge(bytes)
    _ = try? Input.end(bytes)
    _ = try? Input.dispatchStatus(bytes)
    _ = try? Input.dispatch(bytes)
    _ = RetryAfter.parse(text, now: Timestamp(millis: 1_796_000_000_000))
    _ = RetryAfter.httpDate(text)
    _ = Timestamp(rfc3339: text)
    _ = CharacterPolicy.problem(in: text)
    _ = try? WebhookFields.project(bytes, type: .dispatchRequested, fields: [.alias])
    return 0
}
