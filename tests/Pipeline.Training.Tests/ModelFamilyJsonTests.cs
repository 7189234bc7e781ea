using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Contracts;

namespace Pipeline.Tests.Trainer;

public class ModelFamilyJsonTests
{
    [Theory]
    [InlineData(ModelFamily.Linear, "linear")]
    [InlineData(ModelFamily.Mlp, "mlp")]
    [InlineData(ModelFamily.Gbdt, "gbdt")]
    [InlineData(ModelFamily.RandomForest, "rf")]
    public void ModelManifest_FamilyAndTrialKind_AreWrittenAndReadAsTheirLowerCaseNames(ModelFamily family, string name)
    {
        var manifest = new ModelManifest
        {
            Training = new TrainingSummary { Family = family },
            Search = new SearchReport { Trials = [new SearchTrial { Kind = family }] },
        };

        var json = JsonSerializer.Serialize(manifest, PipelineJson.Default.ModelManifest);
        var node = JsonNode.Parse(json)!;
        var read = JsonSerializer.Deserialize(json, PipelineJson.Default.ModelManifest)!;

        Assert.Equal(name, node["training"]!["family"]!.GetValue<string>());
        Assert.Equal(name, node["search"]!["trials"]![0]!["kind"]!.GetValue<string>());
        Assert.Equal(name, family.Name());
        Assert.Equal(family, read.Training.Family);
        Assert.Equal(family, read.Search!.Trials[0].Kind);
        // Reflection-based serialization (tools writing their own JSON) uses the same names.
        Assert.Equal($"\"{name}\"", JsonSerializer.Serialize(family));
    }

    [Fact]
    public void ModelManifest_WithoutTrainingFamily_OmitsIt()
    {
        var json = JsonSerializer.Serialize(new ModelManifest(), PipelineJson.Default.ModelManifest);

        Assert.Null(JsonNode.Parse(json)!["training"]!["family"]);
    }
}
