import TernWire

extension ControllerDecisions {
    /// How many producer ids one AllocateProducerIds hands out (Kafka's block size).
    static let producerIdBlockSize: Int32 = 1000

    /// A block of producer ids for a registered broker: `start ..< start + length`, and the record
    /// that commits its end as the next free id. Pure: the controller proposes the record and
    /// answers only once it is committed, so a block is handed out at most once, across restarts
    /// and controller changes.
    /// - Throws: ``ControllerError`` with `BROKER_ID_NOT_REGISTERED` / `STALE_BROKER_EPOCH` for a
    ///   broker that is not registered as it says; `UNKNOWN_SERVER_ERROR` when the ids run out.
    static func allocateProducerIds(
        _ image: MetadataImage, brokerId: Int32, brokerEpoch: Int64, blockSize: Int32 = producerIdBlockSize
    ) throws(ControllerError) -> (start: Int64, length: Int32, record: MetadataRecord) {
        _ = try registered(image, brokerId, brokerEpoch)
        let start = image.nextProducerId
        guard start <= Int64.max - Int64(blockSize) else {
            throw ControllerError(.unknownServerError, "the cluster has handed out every producer id")
        }
        let record = MetadataRecord.producerIds(
            ProducerIdsRecord(brokerId: brokerId, brokerEpoch: brokerEpoch, nextProducerId: start + Int64(blockSize)))
        return (start, blockSize, record)
    }
}
