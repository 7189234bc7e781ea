using Microsoft.Extensions.DependencyInjection;

namespace Pipeline.Monitoring;

public static class MonitoringServiceCollectionExtensions
{
    /// <summary>
    /// Registers drift reports: <see cref="DriftOptions"/> (section <c>Drift</c>, validated at start-up) and
    /// <see cref="DriftJob"/>. Needs the pipeline's storage clients and a <see cref="TimeProvider"/>.
    /// </summary>
    public static IServiceCollection AddDriftReports(this IServiceCollection services)
    {
        services.AddOptions<DriftOptions>().BindConfiguration(DriftOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<DriftJob>();
        return services;
    }
}
