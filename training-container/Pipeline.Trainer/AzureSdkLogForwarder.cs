using System.Diagnostics.Tracing;
using Azure.Core.Diagnostics;

namespace Pipeline.Trainer;

/// <summary>
/// Forwards the Azure SDK's warnings and errors (storage retries, managed-identity token failures) to the app's logs,
/// under categories such as <c>Azure.Core</c> and <c>Azure.Identity</c> (the names appsettings.json filters on).
/// </summary>
public sealed class AzureSdkLogForwarder(ILoggerFactory loggers) : IHostedService, IDisposable
{
    private AzureEventSourceListener? _listener;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listener = new AzureEventSourceListener((e, message) =>
            loggers.CreateLogger(e.EventSource.Name.Replace('-', '.')).Log(LevelOf(e.Level), "{Message}", message), EventLevel.Warning);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _listener?.Dispose();
        _listener = null;
    }

    private static LogLevel LevelOf(EventLevel level) => level switch
    {
        EventLevel.Critical => LogLevel.Critical,
        EventLevel.Error => LogLevel.Error,
        EventLevel.Warning => LogLevel.Warning,
        EventLevel.Informational => LogLevel.Information,
        _ => LogLevel.Debug,
    };
}
