using Microsoft.Extensions.DependencyInjection;

namespace Pipeline.Scoring;

public static class ScoringServiceCollectionExtensions
{
    /// <summary>
    /// Registers the batch-scoring engine: <see cref="ScoringOptions"/> (section <c>Scoring</c>, validated at start-up) and
    /// <see cref="ScoreHandler"/>. Needs the pipeline's storage clients and a <see cref="TimeProvider"/>.
    /// </summary>
    public static IServiceCollection AddScoring(this IServiceCollection services)
    {
        services.AddOptions<ScoringOptions>().BindConfiguration(ScoringOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ScoreHandler>();
        return services;
    }
}
