import COpenSSL

/// A SCRAM mechanism (RFC 5802 with RFC 7677's hashes) and its primitives, computed by the system
/// OpenSSL: H, HMAC and Hi (PBKDF2-HMAC).
public struct ScramMechanism: Hashable, Sendable, CustomStringConvertible {
    /// The IANA name, as sent in SaslHandshake.
    public let name: String
    /// Bytes of one digest (32 or 64).
    public let digestSize: Int

    private init(name: String, digestSize: Int) {
        self.name = name
        self.digestSize = digestSize
    }

    public static let sha256 = ScramMechanism(name: "SCRAM-SHA-256", digestSize: 32)
    public static let sha512 = ScramMechanism(name: "SCRAM-SHA-512", digestSize: 64)
    /// Every SCRAM mechanism this build speaks.
    public static let all: [ScramMechanism] = [.sha256, .sha512]

    /// Kafka's bounds on the iteration count: fewer is too weak, more lets a server make a
    /// client (or a credential file make a broker) burn CPU.
    public static let minIterations = 4096
    public static let maxIterations = 16384

    /// The mechanism called `name` (exact, upper case as IANA spells it), if this build speaks it.
    public init?(name: String) {
        guard let known = Self.all.first(where: { $0.name == name }) else { return nil }
        self = known
    }

    public var description: String { name }

    private var md: OpaquePointer? { digestSize == 32 ? EVP_sha256() : EVP_sha512() }

    /// H(data).
    public func hash(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = data.withUnsafeBytes { input in
            EVP_Digest(input.baseAddress, input.count, &out, &length, md, nil)
        }
        // A digest over memory cannot fail short of allocation failure, which traps elsewhere too.
        precondition(ok == 1 && Int(length) == digestSize, "EVP_Digest failed")
        return Array(out.prefix(digestSize))
    }

    /// HMAC(key, data).
    public func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // A zero-length key still needs a valid pointer.
        let keyBytes = key.isEmpty ? [0] : key
        let result = keyBytes.withUnsafeBytes { keyBuffer in
            data.withUnsafeBytes { input in
                HMAC(
                    md, keyBuffer.baseAddress, Int32(key.count), input.baseAddress?.assumingMemoryBound(to: UInt8.self),
                    input.count, &out, &length)
            }
        }
        precondition(result != nil && Int(length) == digestSize, "HMAC failed")
        return Array(out.prefix(digestSize))
    }

    /// Hi(password, salt, iterations): PBKDF2 with this mechanism's HMAC.
    public func saltedPassword(_ password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        precondition(iterations >= 1 && iterations <= Int(Int32.max), "iterations out of range")
        var out = [UInt8](repeating: 0, count: digestSize)
        let ok = password.withUnsafeBytes { pass in
            salt.withUnsafeBytes { saltBuffer in
                PKCS5_PBKDF2_HMAC(
                    pass.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(pass.count),
                    saltBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(saltBuffer.count),
                    Int32(iterations), md, Int32(digestSize), &out)
            }
        }
        precondition(ok == 1, "PKCS5_PBKDF2_HMAC failed")
        return out
    }

    /// Equality in time independent of where the bytes differ (the lengths are public).
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) == 0 }
        }
    }

    /// `count` bytes from OpenSSL's CSPRNG (salts, nonces). Not for state machines, which take
    /// their randomness as input.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let ok = out.withUnsafeMutableBytes {
            RAND_bytes($0.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(count))
        }
        precondition(ok == 1, "RAND_bytes failed: the system has no entropy source")
        return out
    }

    /// A fresh nonce: printable, without ',' (base64 of 24 random bytes).
    public static func randomNonce() -> String { Base64.encode(randomBytes(24)) }
}
