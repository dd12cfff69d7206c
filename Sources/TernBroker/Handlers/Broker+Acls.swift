import Dispatch
import TernWire

extension Broker {
    /// CreateAcls: decided and proposed by this node's controller, answered once committed.
    /// A node that is not the active controller answers NOT_CONTROLLER (clients retry against
    /// the controller that Metadata names).
    func handleCreateAcls(_ request: CreateAclsRequest, _ context: RequestContext) {
        let controller = cluster.controller
        controller.queue.async {
            controller.createAcls(request) { Self.respond($0, context) }
        }
    }

    /// DeleteAcls: as CreateAcls.
    func handleDeleteAcls(_ request: DeleteAclsRequest, _ context: RequestContext) {
        let controller = cluster.controller
        controller.queue.async {
            controller.deleteAcls(request) { Self.respond($0, context) }
        }
    }

    /// DescribeAcls: from this node's committed image (every broker has it).
    func handleDescribeAcls(_ request: DescribeAclsRequest) -> DescribeAclsResponse {
        ControllerDecisions.describeAcls(cluster.image, request)
    }

    private static func respond<R: WireResponse>(_ result: Result<R, ControllerError>, _ context: RequestContext) {
        switch result {
        case .success(let response): context.respond(response)
        case .failure(let error): context.respond(error: ResponseStatus(error.code, error.message))
        }
    }
}
