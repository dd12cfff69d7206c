import TernWire

extension Broker {
    /// AlterConfigs: forwarded to the active controller, which validates every change of a topic
    /// first (unknown key, bad value → INVALID_CONFIG, nothing changed) and commits the new
    /// overrides; answered once this broker has applied them to its open logs.
    func handleAlterConfigs(_ request: AlterConfigsRequest, _ context: RequestContext) {
        forward(request, context, timeoutMs: nil)
    }
}
