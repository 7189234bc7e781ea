using Microsoft.Extensions.Configuration;
using Pipeline.Trainer;

namespace Pipeline.Tests.Trainer;

public class TrainerOptionsTests
{
    private static TrainerOptions Bind(Dictionary<string, string?> settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings).Build().GetSection(TrainerOptions.Section).Get<TrainerOptions>() ?? new TrainerOptions();

    [Fact]
    public void HiddenLayers_Configured_ReplaceTheDefault()
    {
        var options = Bind(new() { ["Trainer:HiddenLayers:0"] = "32" });

        Assert.Equal([32], options.EffectiveHiddenLayers);
    }

    [Fact]
    public void HiddenLayers_NotConfigured_UseTheDefault()
    {
        var options = Bind(new() { ["Trainer:Seed"] = "1" });

        Assert.Equal(TrainerOptions.DefaultHiddenLayers, options.EffectiveHiddenLayers);
    }
}
