import TernStorage

/// A partition's producer-state snapshot file (`<offset>.snapshot`) as recovery reads it: bytes
/// from disk, damaged or not. Whatever decodes must re-encode to the same bytes.
enum ProducerSnapshotTarget {
    static let target = FuzzTarget(
        name: "producer-snapshot", maxLength: 4096, summary: "ProducerSnapshot.decode (a partition's producer state)",
        run: run, seeds: seeds)

    static func run(_ input: UnsafeRawBufferPointer) {
        let bytes = [UInt8](input)
        guard let decoded = try? ProducerSnapshot.decode(bytes) else { return }
        let encoded = ProducerSnapshot.encode(decoded.table, offset: decoded.offset)
        fuzzCheck(encoded == bytes, "decode∘encode is not the identity")
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        var table = ProducerStateTable()
        for i: Int32 in 0..<7 {
            table.record(
                producerId: 1000, epoch: 0, firstSequence: i * 10, lastSequence: i * 10 + 9,
                firstOffset: Int64(i * 10), lastOffset: Int64(i * 10 + 9), timestampMs: 1_700_000_000_000)
        }
        table.record(
            producerId: 2, epoch: 5, firstSequence: 0, lastSequence: 0, firstOffset: 70, lastOffset: 70, timestampMs: 1)
        return [
            ("empty", ProducerSnapshot.encode(ProducerStateTable(), offset: 0)),
            ("two-producers", ProducerSnapshot.encode(table, offset: 71)),
        ]
    }
}
