using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Pipeline.Serving.Http;
using Pipeline.Serving.Monitoring;
using Pipeline.Serving.Predict;
using Pipeline.Serving.Storage;
using Pipeline.Storage;

namespace Pipeline.Tests.Serving;

/// <summary>
/// The serving app's options, bound from configuration as at start-up and checked by the source-generated (AOT-safe)
/// validators the app registers with ValidateOnStart: bad settings are refused with a message naming them.
/// </summary>
public sealed class ServingOptionsTests
{
    private static ValidateOptionsResult ValidateModels(string key, string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [$"Models:{key}"] = value }).Build();
        var options = configuration.GetSection(ModelOptions.Section).Get<ModelOptions>()!;
        return new ModelOptionsValidator().Validate(null, options);
    }

    [Fact]
    public void ModelOptions_Defaults_AreValid() => Assert.True(new ModelOptionsValidator().Validate(null, new ModelOptions()).Succeeded);

    [Theory]
    [InlineData("CurrentPollInterval", "00:00:00.001")]
    [InlineData("RequestTimeout", "01:00:00")]
    [InlineData("FailedLoadRetryInterval", "02:00:00")]
    [InlineData("MaxRows", "0")]
    [InlineData("MaxBodyBytes", "100")]
    [InlineData("CacheMemoryBytes", "1000")]
    [InlineData("MaxModelBytes", "10")]
    [InlineData("IntraOpThreads", "0")]
    [InlineData("MaxInitializerBytes", "10")]
    [InlineData("ColdLoadConcurrency", "0")]
    [InlineData("ColdLoadsPerMinute", "0")]
    [InlineData("SmokeTimeout", "00:00:00.001")]
    [InlineData("SmokeTimeout", "00:10:00")]
    public void ModelOptions_OutOfRange_FailNamingTheSetting(string key, string value)
    {
        var result = ValidateModels(key, value);

        Assert.True(result.Failed);
        Assert.Contains(key, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void PredictionLogOptions_Defaults_AreValid() => Assert.True(new PredictionLogOptionsValidator().Validate(null, new PredictionLogOptions()).Succeeded);

    [Theory]
    [InlineData("SampleRate", "1.5")]
    [InlineData("RowsPerSecond", "-1")]
    [InlineData("FlushInterval", "00:00:00")]
    [InlineData("WriteTimeout", "01:00:00")]
    [InlineData("MaxBufferBytes", "1000")]
    [InlineData("MaxFileBytes", "1000")]
    public void PredictionLogOptions_OutOfRange_FailNamingTheSetting(string key, string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [$"Monitoring:{key}"] = value }).Build();
        var options = configuration.GetSection(PredictionLogOptions.Section).Get<PredictionLogOptions>()!;

        var result = new PredictionLogOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(key, result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData("0123456789abcdef", true)]
    [InlineData("short", false)]
    public void FunctionKey_ShorterThan16_Fails(string? key, bool valid) =>
        Assert.Equal(valid, new FunctionKeyOptionsValidator().Validate(null, new FunctionKeyOptions { FunctionKey = key }).Succeeded);

    [Fact]
    public void Storage_WithoutConnectionStringOrBlobUri_FailsSayingWhatToSet()
    {
        var result = new ServingStorageOptionsValidator().Validate(null, new StorageOptions());

        Assert.True(result.Failed);
        Assert.Contains("Models:Path", result.FailureMessage, StringComparison.Ordinal);
        Assert.True(new ServingStorageOptionsValidator().Validate(null, new StorageOptions { BlobServiceUri = new Uri("https://x.blob.core.windows.net") }).Succeeded);
    }
}
