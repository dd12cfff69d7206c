import TernWire

/// One entry payload of the `__cluster_metadata` log (read back from disk, from a snapshot's
/// neighbours and from a leader's QuorumFetch): `MetadataBatch.decode`, every record type.
enum MetadataBatchTarget {
    static let target = FuzzTarget(
        name: "metadata-batch", maxLength: 4096, summary: "MetadataBatch.decode (a metadata log entry's records)",
        run: run, seeds: seeds)

    static func run(_ input: UnsafeRawBufferPointer) {
        let bytes = [UInt8](input)
        guard let records = try? MetadataBatch.decode(bytes) else { return }
        let encoded = MetadataBatch.encode(records)
        let again: [MetadataRecord]
        do {
            again = try MetadataBatch.decode(encoded)
        } catch {
            fuzzFail("\(records.count) records: their own encoding does not decode: \(error)")
        }
        fuzzCheck(again == records, "decode∘encode changed the records")
        fuzzCheck(MetadataBatch.encode(again) == encoded, "encoding is not stable")
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        let records = MetadataRecordTarget.records()
        return [
            ("control-entry", []),
            ("all-types", MetadataBatch.encode(records.map(\.1))),
            ("credentials-and-acls", MetadataBatch.encode(records.suffix(4).map(\.1))),
        ].map { (name: $0.0, bytes: $0.1) }
    }
}
