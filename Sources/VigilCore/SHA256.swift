import Crypto

/// SHA-256 (FIPS 180-4) through swift-crypto: link tokens, plan names and the event log's chain.
public enum SHA256Digest {
    /// The digest of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }

    /// The digest of a string's UTF-8 bytes, in lower-case hex.
    public static func hex(_ text: String) -> String { hex(bytes: hash(Array(text.utf8))) }

    /// Bytes as lower-case hex.
    public static func hex(bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Lower-case (or upper-case) hex as bytes; nil when it is not an even number of hex digits.
    public static func bytes(hex text: String) -> [UInt8]? {
        let c = Array(text.utf8)
        guard c.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(c.count / 2)
        var i = 0
        while i < c.count {
            guard let hi = nibble(c[i]), let lo = nibble(c[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }
}
