using Microsoft.Extensions.Options;
using Pipeline.Functions.Preprocess;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Functions.Preprocess;

/// <summary>The functions app refuses to start with preprocess settings out of range, naming the setting.</summary>
public class PreprocessOptionsTests
{
    [Theory]
    [InlineData("Preprocess:QuietPeriod", "02:00:00", "QuietPeriod")]
    [InlineData("Preprocess:QuietPeriod", "-00:00:01", "QuietPeriod")]
    [InlineData("Preprocess:MaxRaggedShare", "1.5", "MaxRaggedShare")]
    [InlineData("Preprocess:RowGroupSize", "10", "RowGroupSize")]
    [InlineData("Preprocess:BlobCreatedQueue", "", "BlobCreatedQueue")]
    public void Start_SettingOutOfRange_FailsNamingIt(string key, string value, string name)
    {
        using var app = new FunctionsAppFactory(new Dictionary<string, string> { [key] = value });

        var error = Assert.Throws<OptionsValidationException>(() => app.CreateClient());

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
