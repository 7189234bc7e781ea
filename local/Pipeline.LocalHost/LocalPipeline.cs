using Microsoft.Extensions.Options;
using Pipeline.Storage;

namespace Pipeline.LocalHost;

/// <summary>
/// Plays the Azure Functions host for the functions app (starts the custom handler with <c>FUNCTIONS_CUSTOMHANDLER_PORT</c>,
/// waits for it to answer <c>GET /</c>, drives its queue triggers) and starts the training worker, as Container Apps would.
/// </summary>
public sealed partial class LocalPipeline(
    IOptions<LocalHostOptions> options,
    IOptions<StorageOptions> storage,
    Azure.Storage.Queues.QueueServiceClient queues,
    TimeProvider time,
    ILoggerFactory loggers,
    ILogger<LocalPipeline> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var app = FunctionApp.Load(Path.GetFullPath(o.FunctionsAppPath));
        var environment = new Dictionary<string, string>
        {
            ["FUNCTIONS_CUSTOMHANDLER_PORT"] = o.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["DOTNET_ENVIRONMENT"] = "Development",
            ["Storage__ConnectionString"] = storage.Value.ConnectionString ?? "UseDevelopmentStorage=true",
        };

        await using var handlerProcess = new ChildProcess("functions", app.ExecutablePath, app.Arguments, app.Path, environment);
        await using var serving = string.IsNullOrEmpty(o.ServingAppPath) ? null : StartServing(o, environment);
        await using var trainer = string.IsNullOrEmpty(o.TrainerPath)
            ? null
            : new ChildProcess("trainer", Path.GetFullPath(o.TrainerPath), [], Path.GetDirectoryName(Path.GetFullPath(o.TrainerPath))!, environment);

        using var handler = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{o.Port}"), Timeout = Timeout.InfiniteTimeSpan };
        await WaitUntilReadyAsync(handler, handlerProcess, stoppingToken);
        if (serving is not null)
        {
            using var servingClient = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{o.ServingPort}") };
            await WaitUntilReadyAsync(servingClient, serving, stoppingToken);
            LogReady(logger, o.ServingPort);
        }

        var host = new FunctionsHostEmulator(app, queues, handler, time, loggers.CreateLogger<FunctionsHostEmulator>());
        await host.RunAsync(o.QueuePollInterval, stoppingToken);
    }

    /// <summary>The serving app, started as the Functions host starts a custom handler (HTTP functions are called on its port directly).</summary>
    private static ChildProcess StartServing(LocalHostOptions o, Dictionary<string, string> environment)
    {
        var app = FunctionApp.Load(Path.GetFullPath(o.ServingAppPath!));
        var servingEnvironment = new Dictionary<string, string>(environment)
        {
            ["FUNCTIONS_CUSTOMHANDLER_PORT"] = o.ServingPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        return new ChildProcess("serving", app.ExecutablePath, app.Arguments, app.Path, servingEnvironment);
    }

    private static async Task WaitUntilReadyAsync(HttpClient handler, ChildProcess process, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"A function app's handler exited with code {process.ExitCode} before it was ready.");
            }

            try
            {
                using var response = await handler.GetAsync(new Uri("/", UriKind.Relative), cancellationToken);
                return; // any response counts as ready, as for the Functions host
            }
            catch (HttpRequestException)
            {
                await Task.Delay(200, cancellationToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Serving app ready on http://127.0.0.1:{Port}; try POST /api/models/{{name}}/predict (header x-functions-key: local-development-key) after uploading raw/{{name}}/data.csv")]
    private static partial void LogReady(ILogger logger, int port);
}
