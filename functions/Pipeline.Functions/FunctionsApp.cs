using Microsoft.Extensions.Options;
using Pipeline.Preprocessing;
using Pipeline.Storage;

namespace Pipeline.Functions;

public static class FunctionsApp
{
    /// <summary>Listens where the Functions host says (<c>FUNCTIONS_CUSTOMHANDLER_PORT</c>) and registers every function's services.</summary>
    public static WebApplicationBuilder AddFunctionsApp(this WebApplicationBuilder builder)
    {
        if (builder.Configuration["FUNCTIONS_CUSTOMHANDLER_PORT"] is { Length: > 0 } port)
        {
            builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        }

        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddPipelineStorage(builder.Configuration);

        builder.Services.AddOptions<PreprocessOptions>().BindConfiguration(PreprocessOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<PreprocessOptions>, PreprocessOptionsValidator>();
        builder.Services.AddSingleton<DatasetStore>();
        builder.Services.AddSingleton<DatasetDebouncer>();
        builder.Services.AddSingleton<PreprocessHandler>();

        return builder;
    }

    public static WebApplication MapFunctionsApp(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();

        // The Functions host treats any response on GET / as "the handler is ready". Never touches storage.
        app.MapGet("/", () => TypedResults.Ok("ready"));
        app.MapPreprocessFunction();
        return app;
    }
}
