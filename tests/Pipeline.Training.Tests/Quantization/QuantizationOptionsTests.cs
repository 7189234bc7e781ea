using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Pipeline.Training.Onnx.Quantization;
using Pipeline.Trainer;
using Pipeline.Training.Quantization;

namespace Pipeline.Tests.Trainer.Quantization;

public class QuantizationOptionsTests
{
    [Fact]
    public void StaticGranularities_NotConfigured_BuildPerChannelAndPerTensor()
    {
        var options = Resolve(new() { ["Quantization:Policy"] = "SmallestWithinQuality" });

        Assert.Equal([WeightGranularity.PerChannel, WeightGranularity.PerTensor], options.EffectiveStaticGranularities);
        Assert.Equal(QuantizationPolicy.SmallestWithinQuality, options.Policy);
    }

    [Fact]
    public void StaticGranularities_Configured_ReplaceTheDefault()
    {
        var options = Resolve(new() { ["Quantization:StaticGranularities:0"] = "PerTensor" });

        Assert.Equal([WeightGranularity.PerTensor], options.EffectiveStaticGranularities);
    }

    [Theory]
    [InlineData("Quantization:MaxRelativeQualityLoss", "1.5")]
    [InlineData("Quantization:LatencySamples", "0")]
    [InlineData("Quantization:Percentile", "50")]
    public void OutOfRangeSetting_FailsValidationNamingIt(string key, string value)
    {
        var error = Assert.Throws<OptionsValidationException>(() => Resolve(new() { [key] = value }));

        Assert.Contains(key.Split(':')[1], error.Message, StringComparison.Ordinal);
    }

    private static QuantizationOptions Resolve(Dictionary<string, string?> settings)
    {
        settings["Storage:ConnectionString"] = "UseDevelopmentStorage=true";
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        using var services = new ServiceCollection().AddLogging().AddTrainer(configuration).BuildServiceProvider();
        return services.GetRequiredService<IOptions<QuantizationOptions>>().Value;
    }
}
