import Foundation
import Testing
import VigilCore

@testable import VigilRuntime

/// The keys of a PostgreSQL instance during a rotation: either key opens what it sealed, and the ring seals with
/// the key it is told to (the database's), never silently with another.
@Suite("Key ring")
struct KeyRingTests {
    static func key() -> [UInt8] { (0..<32).map { _ in UInt8.random(in: 0...255) } }

    static func pair() -> ([UInt8], [UInt8]) {
        while true {
            let a = key()
            let b = key()
            if AESGCMSealer.id(of: a) != AESGCMSealer.id(of: b) { return (a, b) }
        }
    }

    @Test("a ring of the new and the previous key opens blobs of either and seals with the key it is told to")
    func opensBothSealsWithTheNamedKey() throws {
        let (old, new) = Self.pair()
        let before = try AESGCMSealer(key: old).seal([1, 2, 3], context: "sessions:a")
        let ring = try KeyRing(key: new, previous: old)
        #expect(ring.keyIDs == [AESGCMSealer.id(of: old), AESGCMSealer.id(of: new)])
        // Until the database names the new key, the ring seals with the old one: an instance given only the old
        // key can still open it.
        #expect(ring.sealWith(AESGCMSealer.id(of: old)))
        let meanwhile = try ring.seal([4], context: "sessions:b")
        #expect(try AESGCMSealer(key: old).open(meanwhile, context: "sessions:b") == [4])
        #expect(ring.sealWith(AESGCMSealer.id(of: new)))
        let after = try ring.seal([5], context: "sessions:c")
        #expect(after[1] == AESGCMSealer.id(of: new))
        #expect(try ring.open(before, context: "sessions:a") == [1, 2, 3])
        #expect(try AESGCMSealer(key: new).open(after, context: "sessions:c") == [5])
        // A key it does not hold is refused, and the sealing key stays.
        let stranger = AESGCMSealer.id(of: Self.key())
        if !ring.keyIDs.contains(stranger) {
            #expect(!ring.sealWith(stranger))
            #expect(ring.sealingKeyID == AESGCMSealer.id(of: new))
        }
    }

    @Test("two different keys with the same id byte are refused: a blob could not say which sealed it")
    func sameIDRefused() throws {
        let a = Self.key()
        var b = Self.key()
        while AESGCMSealer.id(of: b) != AESGCMSealer.id(of: a) || b == a { b = Self.key() }
        #expect(throws: VigilError.self) { _ = try KeyRing(key: a, previous: b) }
    }
}
