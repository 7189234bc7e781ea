using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pipeline.Functions.Drift;
using Pipeline.Functions.Preprocess;
using Pipeline.Functions.Score;
using Pipeline.Monitoring;
using Pipeline.Preprocessing;
using Pipeline.Scoring;
using Pipeline.Storage;

namespace Pipeline.Tests.Infrastructure;

/// <summary>
/// The functions app's services in memory, against Azurite, registered as its Program.cs registers them: the
/// preprocessing engine (<see cref="Handler"/>) and function class (<see cref="Function"/>), the batch-scoring
/// function (<see cref="ScoreFunction"/>) and the drift reports (<see cref="DriftJob"/>, <see cref="DriftFunctions"/>). Unless a test sets <c>Preprocess:QuietPeriod</c>
/// there is no upload debounce (every event builds at once). <paramref name="settings"/> override.
/// </summary>
public sealed class PreprocessingApp(IReadOnlyDictionary<string, string>? settings = null) : IAsyncDisposable
{
    private readonly ServiceProvider _services = Build(settings);

    public PreprocessHandler Handler => _services.GetRequiredService<PreprocessHandler>();

    public PreprocessFunction Function => ActivatorUtilities.CreateInstance<PreprocessFunction>(_services);

    public ScoreFunction ScoreFunction => ActivatorUtilities.CreateInstance<ScoreFunction>(_services);

    /// <summary>The batch-scoring handler itself: its job entry is what the scoring job's consumer calls.</summary>
    public ScoreHandler ScoreHandler => _services.GetRequiredService<ScoreHandler>();

    public DriftFunctions DriftFunctions => ActivatorUtilities.CreateInstance<DriftFunctions>(_services);

    public DriftJob DriftJob => _services.GetRequiredService<DriftJob>();

    private static ServiceProvider Build(IReadOnlyDictionary<string, string>? settings)
    {
        var values = new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = Azurite.ConnectionString,
            ["Preprocess:QuietPeriod"] = "00:00:00",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            values[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(configuration)
            .AddLogging()
            .AddSingleton(TimeProvider.System)
            .AddPipelineStorage(configuration)
            .AddPreprocessing()
            .AddScoring()
            .AddDriftReports();
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
