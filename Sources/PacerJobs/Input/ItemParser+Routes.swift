import PacerOpenAI

extension ItemParser where Input == APIRequest {
    /// This parser, with each request's model checked against the models `routes` serve: a
    /// model no deployment serves is a problem on its line, before any request.
    package func served(by models: Set<String>, routes: String) -> ItemParser {
        let parse = parseJSON
        return ItemParser(
            parseText: parseText,
            parseJSON: { line in
                let (id, request) = try parse(line)
                let model = request.model ?? ""
                guard models.contains(model) else {
                    throw LineProblem(
                        message:
                            "no deployment in \(routes) serves the model '\(model)' (they serve \(models.sorted().joined(separator: ", ")))",
                        itemID: id
                    )
                }
                return (id, request)
            }
        )
    }
}
