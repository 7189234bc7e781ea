using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using Microsoft.Extensions.Logging;
using Pipeline.Trainer;

namespace Pipeline.Tests.Trainer;

public class AzureSdkLogForwarderTests
{
    [Fact]
    public async Task AzureSdkWarnings_AreLoggedUnderTheSourceName_AndInformationalEventsAreNot()
    {
        var logs = new CapturingProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        using var forwarder = new AzureSdkLogForwarder(factory);
        await forwarder.StartAsync(TestContext.Current.CancellationToken);

        // An event source like the Azure SDK's ("Azure-Core", "Azure-Identity"…).
        using (var source = new TestAzureSource())
        {
            source.Retry(3);
            source.Request(7);
        }

        await forwarder.StopAsync(TestContext.Current.CancellationToken);

        var entry = Assert.Single(logs.Entries);
        Assert.Equal("Azure.PipelineTest", entry.Category);
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.Contains("retry 3", entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpectedErrorResponses_AreLoggedAtDebug_OtherErrorResponsesStayWarnings()
    {
        var logs = new CapturingProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        using var forwarder = new AzureSdkLogForwarder(factory);
        await forwarder.StartAsync(TestContext.Current.CancellationToken);

        using (var source = new TestAzureSource())
        {
            foreach (var status in new[] { 404, 409, 412, 304, 500, 403, 429 })
            {
                source.ErrorResponse("r" + status, status, "reason", "headers", 0.1);
            }
        }

        await forwarder.StopAsync(TestContext.Current.CancellationToken);

        var levels = logs.Entries.ToDictionary(e => e.Message.Split(' ')[2], e => e.Level);
        Assert.Equal(LogLevel.Debug, levels["[r404]"]);
        Assert.Equal(LogLevel.Debug, levels["[r409]"]);
        Assert.Equal(LogLevel.Debug, levels["[r412]"]);
        Assert.Equal(LogLevel.Debug, levels["[r304]"]);
        Assert.Equal(LogLevel.Warning, levels["[r500]"]);
        Assert.Equal(LogLevel.Warning, levels["[r403]"]);
        Assert.Equal(LogLevel.Warning, levels["[r429]"]);
    }

    /// <summary>Marked like the Azure SDK's own sources (the trait the listener subscribes by).</summary>
    [EventSource(Name = "Azure-PipelineTest")]
    private sealed class TestAzureSource() : EventSource(EventSourceSettings.Default, "AzureEventSource", "true")
    {
        [Event(1, Level = EventLevel.Warning, Message = "retry {0}")]
        public void Retry(int attempt) => WriteEvent(1, attempt);

        [Event(2, Level = EventLevel.Informational, Message = "request {0}")]
        public void Request(int id) => WriteEvent(2, id);

        /// <summary>The shape of Azure.Core's own ErrorResponse event (its name and payload order are what the forwarder reads).</summary>
        [Event(8, Level = EventLevel.Warning, Message = "Error response [{0}] {1} {2} ({4:00.0}s)")]
        public void ErrorResponse(string requestId, int status, string reasonPhrase, string headers, double seconds) =>
            WriteEvent(8, requestId, status, reasonPhrase, headers, seconds);
    }

    private sealed class CapturingProvider : ILoggerProvider
    {
        public ConcurrentQueue<(string Category, LogLevel Level, string Message)> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Entries);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<(string, LogLevel, string)> entries) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                entries.Enqueue((category, logLevel, formatter(state, exception)));
        }
    }
}
