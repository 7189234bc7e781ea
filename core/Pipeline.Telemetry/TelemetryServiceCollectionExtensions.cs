using Azure.Core;
using Azure.Identity;
using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Pipeline.Telemetry;

/// <summary>Where a host's telemetry goes, read from its configuration (environment variables included).</summary>
/// <param name="OtlpEndpoint"><c>OTEL_EXPORTER_OTLP_ENDPOINT</c>: OTLP to that collector (protocol from <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>).</param>
/// <param name="ApplicationInsights"><c>APPLICATIONINSIGHTS_CONNECTION_STRING</c>: Azure Monitor, with an Entra token.</param>
/// <param name="ClientId">The user-assigned managed identity that authenticates to Azure Monitor: <c>ClientId=</c> of
/// <c>APPLICATIONINSIGHTS_AUTHENTICATION_STRING</c>, else <c>AZURE_CLIENT_ID</c>; none: <see cref="DefaultAzureCredential"/>.</param>
public sealed record TelemetryExport(string? OtlpEndpoint, string? ApplicationInsights, string? ClientId)
{
    public const string OtlpEndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string ApplicationInsightsSetting = "APPLICATIONINSIGHTS_CONNECTION_STRING";
    public const string AuthenticationSetting = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING";

    public bool Exports => OtlpEndpoint is not null || ApplicationInsights is not null;

    public static TelemetryExport From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var clientId = ClientIdOf(configuration[AuthenticationSetting]) ?? configuration["AZURE_CLIENT_ID"];
        return new TelemetryExport(NullIfBlank(configuration[OtlpEndpointSetting]), NullIfBlank(configuration[ApplicationInsightsSetting]), NullIfBlank(clientId));
    }

    /// <summary>The credential for Azure Monitor: the app's user-assigned identity when named, else the default chain.</summary>
    public TokenCredential Credential() => ClientId is { } id
        ? new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(id))
        : new DefaultAzureCredential();

    /// <summary><c>ClientId</c> of an authentication string such as <c>ClientId=…;Authorization=AAD</c>.</summary>
    public static string? ClientIdOf(string? authentication) =>
        authentication?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(part => part.Split('=', 2))
            .FirstOrDefault(pair => pair.Length == 2 && pair[0].Equals("ClientId", StringComparison.OrdinalIgnoreCase))?[1];

    private static string? NullIfBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}

public static class TelemetryServiceCollectionExtensions
{
    /// <summary>
    /// Registers OpenTelemetry for a host named <paramref name="serviceName"/>: tracing of the pipeline's sources (and
    /// <paramref name="extraSources"/>) always, so trace context reaches queue messages, manifests and log scopes; metrics
    /// of the pipeline's meters and logs only where an exporter is configured (<see cref="TelemetryExport"/>).
    /// </summary>
    public static IServiceCollection AddPipelineTelemetry(this IServiceCollection services, IConfiguration configuration, string serviceName,
        params string[] extraSources)
    {
        var export = TelemetryExport.From(configuration);
        var credential = new Lazy<TokenCredential>(export.Credential);
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithTracing(tracing =>
            {
                tracing.AddSource([.. PipelineTelemetry.All, .. extraSources]);
                if (export.OtlpEndpoint is not null)
                {
                    tracing.AddOtlpExporter();
                }

                if (export.ApplicationInsights is { } connection)
                {
                    tracing.AddAzureMonitorTraceExporter(o => Configure(o, connection, credential));
                }
            });
        if (!export.Exports)
        {
            return services;
        }

        telemetry.WithMetrics(metrics =>
        {
            metrics.AddMeter([.. PipelineTelemetry.All]);
            if (export.OtlpEndpoint is not null)
            {
                metrics.AddOtlpExporter();
            }

            if (export.ApplicationInsights is { } connection)
            {
                metrics.AddAzureMonitorMetricExporter(o => Configure(o, connection, credential));
            }
        });
        telemetry.WithLogging(logging =>
        {
            if (export.OtlpEndpoint is not null)
            {
                logging.AddOtlpExporter();
            }

            if (export.ApplicationInsights is { } connection)
            {
                logging.AddAzureMonitorLogExporter(o => Configure(o, connection, credential));
            }
        });
        return services;
    }

    private static void Configure(AzureMonitorExporterOptions options, string connectionString, Lazy<TokenCredential> credential)
    {
        options.ConnectionString = connectionString;
        options.Credential = credential.Value;
    }
}
