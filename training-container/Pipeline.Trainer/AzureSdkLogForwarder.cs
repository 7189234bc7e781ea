using System.Diagnostics.Tracing;
using Azure.Core.Diagnostics;

namespace Pipeline.Trainer;

/// <summary>
/// Forwards the Azure SDK's warnings and errors (storage retries, managed-identity token failures) to the app's logs,
/// under categories such as <c>Azure.Core</c> and <c>Azure.Identity</c> (the names appsettings.json filters on).
/// Azure.Core reports every 4xx response as a warning with all its headers, but the trainer expects some: 404 when it
/// looks for a run status, checkpoint or published manifest that is not there yet, 409 from create-if-not-exists, 412
/// from a conditional write that lost a race, 304. Those are logged at Debug, so they no longer flood the log and stay
/// available when <c>Azure.Core</c> is set to Debug.
/// </summary>
public sealed class AzureSdkLogForwarder(ILoggerFactory loggers) : IHostedService, IDisposable
{
    private AzureEventSourceListener? _listener;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listener = new AzureEventSourceListener((e, message) =>
            loggers.CreateLogger(e.EventSource.Name.Replace('-', '.')).Log(LevelOf(e), "{Message}", message), EventLevel.Warning);
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

    /// <summary>Azure.Core's <c>ErrorResponse</c> event: (requestId, status, reasonPhrase, headers, seconds).</summary>
    private const string ErrorResponseEvent = "ErrorResponse";

    public static LogLevel LevelOf(EventWrittenEventArgs e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e.EventName == ErrorResponseEvent && e.Payload is [_, int status, ..] && Expected(status) ? LogLevel.Debug : LevelOf(e.Level);
    }

    private static bool Expected(int status) => status is 304 or 404 or 409 or 412;

    private static LogLevel LevelOf(EventLevel level) => level switch
    {
        EventLevel.Critical => LogLevel.Critical,
        EventLevel.Error => LogLevel.Error,
        EventLevel.Warning => LogLevel.Warning,
        EventLevel.Informational => LogLevel.Information,
        _ => LogLevel.Debug,
    };
}
