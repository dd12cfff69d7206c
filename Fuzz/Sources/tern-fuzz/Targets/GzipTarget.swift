import TernWire

/// gzip decompression with a bound on its output (the decompression-bomb guard). The first input
/// byte picks the bound, 1 B to 1 MiB; the rest is the compressed data.
enum GzipTarget {
    static let target = FuzzTarget(
        name: "gzip", maxLength: 4096, summary: "Gzip.decompress with a bounded output", run: run, seeds: seeds)

    static func run(_ input: UnsafeRawBufferPointer) {
        guard let first = input.first else { return }
        let limit = 1 << Int(first % 21)
        let compressed = UnsafeRawBufferPointer(rebasing: input[1...])
        guard let plain = try? Gzip.decompress(compressed, limit: limit) else { return }
        fuzzCheck(plain.count <= limit, "decompressed \(plain.count) bytes past the limit \(limit)")
        // Exactly enough room is enough: the bound refuses more, not as much.
        guard let exact = try? Gzip.decompress(compressed, limit: plain.count) else {
            fuzzFail("\(plain.count) bytes decompressed with limit \(limit) but not with limit \(plain.count)")
        }
        fuzzCheck(exact == plain, "the limit changed the decompressed bytes")
        let again = plain.withUnsafeBytes { Gzip.compress($0) }
        guard let back = try? again.withUnsafeBytes({ try Gzip.decompress($0, limit: plain.count) }) else {
            fuzzFail("our own gzip of \(plain.count) bytes does not decompress")
        }
        fuzzCheck(back == plain, "compress∘decompress changed the bytes")
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        let text = Array(String(repeating: "tern record value ", count: 20).utf8)
        let records = SeedData.batch(count: 3)
        return [
            ("text", [12] + text.withUnsafeBytes { Gzip.compress($0) }),
            ("text-tight-limit", [8] + text.withUnsafeBytes { Gzip.compress($0) }),
            ("records", [20] + records.withUnsafeBytes { Gzip.compress(UnsafeRawBufferPointer(rebasing: $0[61...])) }),
            ("empty", [0] + [UInt8]().withUnsafeBytes { Gzip.compress($0) }),
            (
                "zeros-bomb",
                [10] + [UInt8](repeating: 0, count: 100_000).withUnsafeBytes { Gzip.compress($0, level: 9) }
            ),
        ]
    }
}
