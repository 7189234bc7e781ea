using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Pipeline.Preprocessing;

public static class PreprocessingServiceCollectionExtensions
{
    /// <summary>
    /// Registers the preprocessing engine: <see cref="PreprocessOptions"/> (section <c>Preprocess</c>, validated at start-up)
    /// and <see cref="PreprocessHandler"/> with its store and debouncer. Needs the pipeline's storage clients and a
    /// <see cref="TimeProvider"/>.
    /// </summary>
    public static IServiceCollection AddPreprocessing(this IServiceCollection services)
    {
        services.AddOptions<PreprocessOptions>().BindConfiguration(PreprocessOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<PreprocessOptions>, PreprocessOptionsValidator>();
        services.AddSingleton<DatasetStore>();
        services.AddSingleton<DatasetDebouncer>();
        services.AddSingleton<PreprocessHandler>();
        return services;
    }
}
