using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Pipeline.Preprocessing;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Functions.Preprocess;

/// <summary>The functions app rejects preprocess settings out of range, naming the setting (at start-up: ValidateOnStart).</summary>
public class PreprocessOptionsTests
{
    [Theory]
    [InlineData("Preprocess:QuietPeriod", "02:00:00", "QuietPeriod")]
    [InlineData("Preprocess:QuietPeriod", "-00:00:01", "QuietPeriod")]
    [InlineData("Preprocess:MaxRaggedShare", "1.5", "MaxRaggedShare")]
    [InlineData("Preprocess:RowGroupSize", "10", "RowGroupSize")]
    [InlineData("Preprocess:BlobCreatedQueue", "", "BlobCreatedQueue")]
    public async Task App_SettingOutOfRange_FailsValidationNamingIt(string key, string value, string name)
    {
        // The app's own registrations (Program.cs), without starting the worker: what its host validates at start-up.
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Storage:ConnectionString"] = Azurite.ConnectionString, [key] = value })
            .Build();
        await using var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(configuration)
            .AddLogging()
            .AddSingleton(TimeProvider.System)
            .AddPipelineStorage(configuration)
            .AddPreprocessing()
            .BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains(name, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validator_DefaultsAndAnHourOfQuiet_AreValid()
    {
        var validator = new PreprocessOptionsValidator();

        Assert.True(validator.Validate(null, new PreprocessOptions()).Succeeded);
        Assert.True(validator.Validate(null, new PreprocessOptions { QuietPeriod = TimeSpan.FromHours(1) }).Succeeded);
        Assert.False(validator.Validate(null, new PreprocessOptions { QuietPeriod = TimeSpan.FromHours(1.01) }).Succeeded);
    }
}
