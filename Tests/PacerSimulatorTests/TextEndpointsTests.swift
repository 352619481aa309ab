import Foundation
import PacerOpenAI
import PacerSimulator
import PacerTesting
import Testing

/// `POST /v1/completions`, `/v1/responses` and `/v1/moderations` against the real simulator.
@Suite struct TextEndpointsTests {
    /// The simulator's answers are words of its vocabulary, one token each.
    func wordCount(_ text: String) -> Int { text.split(separator: " ").count }

    @Test func completionsAnswerOneChoicePerPromptWithTheirUsage() async throws {
        try await withSimulator { server in
            let prompts = ["Say hello", "Say goodbye, at length", "Count to three"]
            let answer = try await API(server).post(
                "completions",
                ["model": "gpt-3.5-turbo-instruct", "prompt": prompts, "max_tokens": 30]
            )
            #expect(answer.status == 200)
            #expect((answer.body["id"] as? String)?.hasPrefix("cmpl-") == true)
            #expect(answer.body["object"] as? String == "text_completion")
            #expect(answer.body["created"] is Int)
            #expect(answer.body["model"] as? String == "gpt-3.5-turbo-instruct")
            let choices = try #require(answer.body["choices"] as? [JSONObject])
            #expect(choices.map { $0["index"] as? Int } == [0, 1, 2])
            var generated = 0
            for choice in choices {
                let text = try #require(choice["text"] as? String)
                #expect(choice["logprobs"] is NSNull)
                let words = wordCount(text)
                #expect((1...30).contains(words))
                #expect(choice["finish_reason"] as? String == (words == 30 ? "length" : "stop"))
                generated += words
            }
            let usage = try #require(answer.body["usage"] as? JSONObject)
            #expect(usage["prompt_tokens"] as? Int == prompts.reduce(0) { $0 + TokenEstimate.text($1) })
            #expect(usage["completion_tokens"] as? Int == generated)
            #expect(usage["total_tokens"] as? Int == (usage["prompt_tokens"] as? Int ?? 0) + generated)
        }
    }

    @Test func completionsDefaultTo16TokensAndAStringPromptIsOneChoice() async throws {
        try await withSimulator { server in
            let api = API(server)
            var lengths: [Int] = []
            for prompt in ["one", "two", "three", "four", "five", "six"] {
                let answer = try await api.post("completions", ["model": "gpt-3.5-turbo-instruct", "prompt": prompt])
                let choices = try #require(answer.body["choices"] as? [JSONObject])
                #expect(choices.count == 1)
                let words = wordCount(try #require(choices.first?["text"] as? String))
                #expect(choices.first?["finish_reason"] as? String == (words == 16 ? "length" : "stop"))
                lengths.append(words)
            }
            #expect(lengths.allSatisfy { $0 <= 16 })
            #expect(lengths.contains(16))
            // The same prompt, the same answer.
            let again = try await api.post("completions", ["model": "gpt-3.5-turbo-instruct", "prompt": "one"])
            let first = try await api.post("completions", ["model": "gpt-3.5-turbo-instruct", "prompt": "one"])
            #expect(
                (again.body["choices"] as? [JSONObject])?.first?["text"] as? String
                    == (first.body["choices"] as? [JSONObject])?.first?["text"] as? String
            )
        }
    }

    @Test func responsesAnswerAResponseObjectWithItsUsage() async throws {
        try await withSimulator { server in
            let answer = try await API(server).post(
                "responses",
                [
                    "model": "gpt-4o-mini", "instructions": "Be brief.",
                    "input": [["role": "user", "content": [["type": "input_text", "text": "Hello there"]]]],
                ]
            )
            #expect(answer.status == 200)
            let body = answer.body
            #expect((body["id"] as? String)?.hasPrefix("resp_") == true)
            #expect(body["object"] as? String == "response")
            #expect(body["created_at"] is Int)
            #expect(body["status"] as? String == "completed")
            #expect(body["incomplete_details"] is NSNull)
            #expect(body["error"] is NSNull)
            #expect(body["instructions"] as? String == "Be brief.")
            #expect(body["model"] as? String == "gpt-4o-mini")
            #expect((body["tools"] as? [Any])?.isEmpty == true)
            #expect(body["parallel_tool_calls"] as? Bool == true)
            let output = try #require(body["output"] as? [JSONObject])
            #expect(output.count == 1)
            let message = try #require(output.first)
            #expect(message["type"] as? String == "message")
            #expect((message["id"] as? String)?.hasPrefix("msg_") == true)
            #expect(message["status"] as? String == "completed")
            #expect(message["role"] as? String == "assistant")
            let content = try #require(message["content"] as? [JSONObject])
            #expect(content.first?["type"] as? String == "output_text")
            #expect((content.first?["annotations"] as? [Any])?.isEmpty == true)
            let text = try #require(content.first?["text"] as? String)
            let usage = try #require(body["usage"] as? JSONObject)
            let input = TokenEstimate.prompt([.system("Be brief."), .user("Hello there")])
            #expect(usage["input_tokens"] as? Int == input)
            #expect(usage["output_tokens"] as? Int == wordCount(text))
            #expect(usage["total_tokens"] as? Int == input + wordCount(text))
            #expect((usage["input_tokens_details"] as? JSONObject)?["cached_tokens"] as? Int == 0)
            #expect((usage["output_tokens_details"] as? JSONObject)?["reasoning_tokens"] as? Int == 0)
        }
    }

    @Test func aResponseCutAtMaxOutputTokensIsIncomplete() async throws {
        try await withSimulator { server in
            let api = API(server)
            var statuses: Set<String> = []
            for prompt in ["a", "b", "c", "d", "e", "f", "g", "h"] {
                let answer = try await api.post(
                    "responses",
                    ["model": "gpt-4o-mini", "input": prompt, "max_output_tokens": 16]
                )
                let status = try #require(answer.body["status"] as? String)
                statuses.insert(status)
                let output = (answer.body["usage"] as? JSONObject)?["output_tokens"] as? Int
                let message = (answer.body["output"] as? [JSONObject])?.first
                if status == "incomplete" {
                    #expect(output == 16)
                    #expect(
                        (answer.body["incomplete_details"] as? JSONObject)?["reason"] as? String == "max_output_tokens"
                    )
                    #expect(message?["status"] as? String == "incomplete")
                } else {
                    #expect(status == "completed")
                    #expect((output ?? 16) < 16)
                    #expect(answer.body["incomplete_details"] is NSNull)
                }
            }
            #expect(statuses == ["completed", "incomplete"])
            let tooFew = try await api.post(
                "responses",
                ["model": "gpt-4o-mini", "input": "a", "max_output_tokens": 15]
            )
            #expect(tooFew.status == 400)
            #expect(try tooFew.error()["param"] as? String == "max_output_tokens")
        }
    }

    @Test func moderationsFlagTheInputsWithAttackAndReportEveryCategory() async throws {
        try await withSimulator { server in
            let answer = try await API(server).post(
                "moderations",
                ["input": ["a calm sentence", "we ATTACK at dawn"]]
            )
            #expect(answer.status == 200)
            #expect((answer.body["id"] as? String)?.hasPrefix("modr-") == true)
            #expect(answer.body["model"] as? String == "omni-moderation-latest")
            #expect(answer.body["usage"] == nil)
            let results = try #require(answer.body["results"] as? [JSONObject])
            #expect(results.map { $0["flagged"] as? Bool } == [false, true])
            let categories = [
                "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
                "self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence",
                "violence/graphic",
            ]
            for result in results {
                let flags = try #require(result["categories"] as? [String: Bool])
                let scores = try #require(result["category_scores"] as? [String: Double])
                let types = try #require(result["category_applied_input_types"] as? [String: [String]])
                #expect(Set(flags.keys) == Set(categories))
                #expect(Set(scores.keys) == Set(categories))
                #expect(Set(types.keys) == Set(categories))
                #expect(scores.values.allSatisfy { (0...1).contains($0) })
                #expect(flags["violence"] == (result["flagged"] as? Bool))
            }
            let named = try await API(server).post(
                "moderations",
                ["model": "text-moderation-latest", "input": "one string"]
            )
            #expect(named.body["model"] as? String == "text-moderation-latest")
            #expect((named.body["results"] as? [Any])?.count == 1)
        }
    }
}
