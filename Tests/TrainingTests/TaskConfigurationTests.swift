import Configuration
import Testing
import Training

/// The tasks a config names: checked before any work, each problem naming its key.
@Suite struct TaskConfigurationTests {
    static let synthetic = """
        model: {architecture: wide_deep, embedding_dimension: 4, table_count: 2, table_rows: 10, deep_mlp: [8, 2]}
        data: {synthetic: {tasks: [click, like], train_samples: 100, eval_samples: 20}}
        """

    func problem(_ text: String, _ overrides: [String] = []) -> String? {
        do {
            _ = try ConfigurationLoader.parse(text, source: "t.yaml", overrides: overrides)
            return nil
        } catch let error as ConfigurationError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func theTasksDecideTheModelsOutputs() throws {
        let c = try ConfigurationLoader.parse(Self.synthetic, source: "t.yaml")
        #expect(c.data.tasks.map(\.name) == ["click", "like"] && c.modelShape.taskCount == 2)
        #expect(problem(Self.synthetic, ["model.deep_mlp=[8, 1]"])?
            .contains("key 'model.deep_mlp': must end at 2 (one output per task), got 1") == true)
        #expect(problem(Self.synthetic, ["data.synthetic.tasks=[click, click]"])?
            .contains("key 'data.synthetic.tasks': names task 'click' twice") == true)
        #expect(problem(Self.synthetic, ["data.synthetic.tasks=[click, 'a b']"])?
            .contains("key 'data.synthetic.tasks[1]': must be 1 to 31 letters, digits or '_', got 'a b'") == true)
    }

    @Test func evaluationFollowsANamedBinaryTask() {
        #expect(problem(Self.synthetic, ["evaluation.task=like"]) == nil)
        #expect(problem(Self.synthetic, ["evaluation.task=love"])?
            .contains("key 'evaluation.task': 'love' is none of the data's tasks (click, like)") == true)
    }

    @Test func delimitedLabelsAreNamedAndOneFormIsGiven() {
        let delimited = """
            model: {architecture: wide_deep, embedding_dimension: 4, table_count: 1, table_rows: 10, deep_mlp: [8, 2]}
            data:
              source: delimited
              path: x.csv
              dense_features: 0
              delimited:
                delimiter: ","
                labels: [{name: like, column: 2, positive_if: ">= 4"}, {column: 2, regression: true}]
                categorical: [{column: 0}]
            """
        #expect(problem(delimited)?.contains("key 'data.delimited.labels[1].name': required key is missing (each task is named)") == true)
        #expect(problem(delimited, ["data.delimited.labels[1].name=stars", "data.delimited.labels[1].positive_if=>= 3"])?
            .contains("key 'data.delimited.labels[1].regression': a regression label is the column's number: no positive_if") == true)
        #expect(problem(delimited, ["data.delimited.labels[1].name=stars", "data.delimited.label={column: 2}"])?
            .contains("key 'data.delimited.label': give label (one task) or labels (one per task), not both") == true)
        #expect(problem(delimited, ["data.delimited.labels[1].name=stars", "evaluation.task=stars"])?
            .contains("'stars' is a regression") == true)
    }
}
