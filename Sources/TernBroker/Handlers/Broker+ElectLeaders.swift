import TernWire

extension Broker {
    /// ElectLeaders: decided by the active controller (forwarded like CreateTopics); answered once
    /// this broker applied the new leaders, so its Metadata shows them at once.
    func handleElectLeaders(_ request: ElectLeadersRequest, _ context: RequestContext) {
        forward(request, context, timeoutMs: request.timeoutMs)
    }
}
