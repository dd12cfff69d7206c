import TernWire

extension Broker {
    /// InitProducerId: a new producer id at epoch 0 for an idempotent producer. Tern has no
    /// transactions, so a transactional id is refused; a re-initialisation (producer id and epoch
    /// given) gets a new id too, as Kafka answers a producer without a transactional id.
    func handleInitProducerId(_ request: InitProducerIdRequest, _ context: RequestContext) {
        guard request.transactionalId == nil else {
            context.metrics.failed(.invalidRequest)
            return context.respond(
                InitProducerIdResponse(
                    errorCode: .invalidRequest,
                    errorMessage: "transactions are not supported: transactionalId must be null", producerId: -1,
                    producerEpoch: -1))
        }
        producerIds.nextId { result in
            switch result {
            case .success(let id):
                context.respond(InitProducerIdResponse(producerId: id, producerEpoch: 0))
            case .failure(let error):
                // Retriable: the controller may be moving or this broker not yet registered.
                context.metrics.failed(.coordinatorNotAvailable)
                context.respond(
                    InitProducerIdResponse(
                        errorCode: .coordinatorNotAvailable, errorMessage: "\(error)", producerId: -1, producerEpoch: -1
                    ))
            }
        }
    }
}
