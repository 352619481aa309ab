import PacerOpenAI

extension ItemParser {
    /// This parser, with each item's model (`model(of:)`) checked against the models
    /// `routes` serve: a model no deployment serves is a problem on its line, before any
    /// request.
    package func served(
        by models: Set<String>,
        routes: String,
        model: @escaping @Sendable (Input) -> String?
    ) -> ItemParser {
        let parse = parseJSON
        let parseText = parseText
        @Sendable func check(_ input: Input, id: String?) throws -> Input {
            let name = model(input) ?? ""
            guard models.contains(name) else {
                throw LineProblem(
                    message:
                        "no deployment in \(routes) serves the model '\(name)' (they serve \(models.sorted().joined(separator: ", ")))",
                    itemID: id
                )
            }
            return input
        }
        return ItemParser(
            parseText: { text in try check(try parseText(text), id: nil) },
            parseJSON: { line in
                let (id, input) = try parse(line)
                return (id, try check(input, id: id))
            }
        )
    }
}
