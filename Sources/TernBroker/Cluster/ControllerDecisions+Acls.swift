import TernWire

extension ControllerDecisions {
    /// The records a request's ACL change proposes, with the response to send once they commit.
    public struct AclChange<Response: Hashable & Sendable>: Hashable, Sendable {
        public var records: [MetadataRecord]
        public var response: Response
    }

    /// CreateAcls: one add-ACL record per new, valid binding. A binding that already exists (in
    /// the image, or earlier in the same request) succeeds without a record, as Kafka's
    /// authorizer treats it; an invalid one (``AclBinding/invalidReason``) answers
    /// INVALID_REQUEST with the reason and adds nothing. Results follow the request's order.
    public static func createAcls(_ image: MetadataImage, _ request: CreateAclsRequest) -> AclChange<CreateAclsResponse>
    {
        var proposal = Proposal(image)
        var results: [AclResult] = []
        results.reserveCapacity(request.creations.count)
        for binding in request.creations {
            if let reason = binding.invalidReason {
                results.append(AclResult(errorCode: .invalidRequest, errorMessage: "\(binding): \(reason)"))
                continue
            }
            if proposal.image.acls.contains(binding) {
                results.append(AclResult())
                continue
            }
            do {
                try proposal.add(.addAcl(binding))
                results.append(AclResult())
            } catch {
                results.append(AclResult(errorCode: error.code, errorMessage: error.message))
            }
        }
        return AclChange(records: proposal.records, response: CreateAclsResponse(results: results))
    }

    /// DeleteAcls: removes every binding any filter selects, once, and answers each filter with
    /// the bindings it selected (sorted), so a binding two filters select is listed under both.
    public static func deleteAcls(_ image: MetadataImage, _ request: DeleteAclsRequest) -> AclChange<DeleteAclsResponse>
    {
        let all = image.sortedAcls
        var proposal = Proposal(image)
        var results: [DeleteAclsResponse.FilterResult] = []
        results.reserveCapacity(request.filters.count)
        for filter in request.filters {
            let selected = all.filter(filter.matches)
            var result = DeleteAclsResponse.FilterResult(deleted: selected)
            for binding in selected where proposal.image.acls.contains(binding) {
                do {
                    try proposal.add(.removeAcl(binding))
                } catch {
                    result = DeleteAclsResponse.FilterResult(
                        errorCode: error.code, errorMessage: error.message, deleted: [])
                    break
                }
            }
            results.append(result)
        }
        return AclChange(records: proposal.records, response: DeleteAclsResponse(results: results))
    }

    /// DescribeAcls: the bindings the filter selects, sorted. Read-only: any broker can answer it
    /// from its image.
    public static func describeAcls(_ image: MetadataImage, _ request: DescribeAclsRequest) -> DescribeAclsResponse {
        DescribeAclsResponse(bindings: image.sortedAcls.filter(request.filter.matches))
    }
}
