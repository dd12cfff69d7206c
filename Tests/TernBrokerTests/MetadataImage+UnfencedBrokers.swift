import TernWire

@testable import TernBroker

extension MetadataImage {
    /// An image where brokers `ids` are registered (incarnation (5, id), no listeners) and
    /// unfenced: where the tests of replicated partitions start before they create topics.
    static func withUnfencedBrokers(_ ids: [Int32] = [1, 2, 3]) throws -> MetadataImage {
        typealias D = ControllerDecisions
        var image = MetadataImage()
        for id in ids {
            image = try image.applying(
                D.registerBroker(
                    image, nodeId: id, incarnationId: MetadataUUID(high: 5, low: UInt64(id)), listeners: [],
                    roles: [.broker]
                ).records)
            image = try image.applying(
                D.unfenceBroker(
                    image, nodeId: id, brokerEpoch: image.broker(id)?.brokerEpoch ?? -1, metadataOffset: 0,
                    logEndOffset: 0))
        }
        return image
    }
}
