using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Pipeline.Scoring;

namespace Pipeline.Tests.Scoring;

/// <summary>Which host scores a file of a given size: the functions app up to its limit, the scoring job above it, nobody past the job's.</summary>
public class ScoringOptionsTests
{
    private static ScoringOptions CreateSut() => new() { MaxFileBytes = 1000, MaxJobFileBytes = 5000 };

    [Theory]
    [InlineData(0L, ScoringRoute.FunctionsApp)]
    [InlineData(999L, ScoringRoute.FunctionsApp)]
    [InlineData(1000L, ScoringRoute.FunctionsApp)]
    [InlineData(1001L, ScoringRoute.Job)]
    [InlineData(5000L, ScoringRoute.Job)]
    [InlineData(5001L, ScoringRoute.TooLarge)]
    [InlineData(long.MaxValue, ScoringRoute.TooLarge)]
    public void RouteOf_Size_PicksTheHostByTheLimits(long bytes, ScoringRoute expected) =>
        Assert.Equal(expected, CreateSut().RouteOf(bytes));

    [Fact]
    public void RouteOf_Defaults_FunctionsAppUpTo2GiBThenTheJobUpTo3GiB()
    {
        var options = new ScoringOptions();

        Assert.Equal(ScoringRoute.FunctionsApp, options.RouteOf(2L << 30));
        Assert.Equal(ScoringRoute.Job, options.RouteOf((2L << 30) + 1));
        Assert.Equal(ScoringRoute.Job, options.RouteOf(3L << 30));
        Assert.Equal(ScoringRoute.TooLarge, options.RouteOf((3L << 30) + 1));
        Assert.Equal("score-jobs", options.JobQueue);
    }

    [Fact]
    public void MaxFileBytesEqualToMaxJobFileBytes_RoutesNothingToTheJob()
    {
        var options = new ScoringOptions { MaxFileBytes = 100, MaxJobFileBytes = 100 };

        Assert.Empty(Validate(options));
        Assert.Equal(ScoringRoute.FunctionsApp, options.RouteOf(100));
        Assert.Equal(ScoringRoute.TooLarge, options.RouteOf(101));
    }

    [Fact]
    public void Start_JobLimitBelowTheFunctionsAppLimit_FailsNamingBothSettings()
    {
        using var services = Services(("Scoring:MaxFileBytes", "1000"), ("Scoring:MaxJobFileBytes", "999"));

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<ScoringOptions>>().Value);

        Assert.Contains("Scoring:MaxJobFileBytes (999) is below Scoring:MaxFileBytes (1000)", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Score-Jobs")]
    [InlineData("ab")]
    [InlineData("a--b")]
    public void Start_JobQueueNotAQueueName_Fails(string queue)
    {
        using var services = Services(("Scoring:JobQueue", queue));

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<ScoringOptions>>().Value);

        Assert.Contains("Scoring:JobQueue", error.Message, StringComparison.Ordinal);
    }

    private static List<ValidationResult> Validate(ScoringOptions options)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        return results;
    }

    private static ServiceProvider Services(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build();
        return new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddScoring().BuildServiceProvider();
    }
}
