/// The next producer id not yet handed out (Kafka's `ProducerIdsRecord`): the active controller
/// writes one each time it gives a broker a block of ids, so every id below `nextProducerId` has
/// been allocated and none is ever given out again, whichever node leads later.
public struct ProducerIdsRecord: Hashable, Sendable {
    /// The broker the block went to.
    public var brokerId: Int32
    /// That broker's registration epoch when it asked.
    public var brokerEpoch: Int64
    /// The first id of the next block; the block just allocated ends below it.
    public var nextProducerId: Int64

    public init(brokerId: Int32, brokerEpoch: Int64, nextProducerId: Int64) {
        self.brokerId = brokerId
        self.brokerEpoch = brokerEpoch
        self.nextProducerId = nextProducerId
    }

    func encode(into writer: inout ByteWriter) {
        writer.write(brokerId)
        writer.write(brokerEpoch)
        writer.write(nextProducerId)
    }

    static func decode(from reader: inout ByteReader) throws -> ProducerIdsRecord {
        let record = ProducerIdsRecord(
            brokerId: try reader.readInt32("producer ids broker id"),
            brokerEpoch: try reader.readInt64("producer ids broker epoch"),
            nextProducerId: try reader.readInt64("next producer id"))
        guard record.nextProducerId >= 0 else {
            throw WireError(.malformed, "next producer id \(record.nextProducerId) is negative")
        }
        return record
    }
}
