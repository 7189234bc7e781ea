using System.Diagnostics;

namespace Pipeline.Cli.Target;

/// <summary>What the command line said about the target, before defaults.</summary>
public sealed record TargetArguments(
    string? ConnectionString, string? Account, string? ServingUrl, string? Key, string? AdminKey, FileInfo? EnvFile, bool Azd);

/// <summary>
/// Builds <see cref="TargetOptions"/>: command-line options first, then environment variables (<c>PIPELINE_SERVING_URL</c>,
/// <c>PIPELINE_KEY</c>, <c>PIPELINE_ADMIN_KEY</c>, <c>AZURE_STORAGE_CONNECTION_STRING</c>), then azd's values
/// (<c>--env-file</c>, or <c>--azd</c> to run <c>azd env get-values</c>: <c>AZURE_STORAGE_ACCOUNT_NAME</c>,
/// <c>AZURE_STORAGE_BLOB_ENDPOINT</c>, <c>SERVING_APP_URL</c>), then the local defaults (Azurite, 127.0.0.1:7071,
/// <c>local-development-key</c>) when no Azure account is named.
/// </summary>
public static class TargetResolver
{
    private static readonly TimeSpan AzdTimeout = TimeSpan.FromSeconds(30);

    public static async Task<TargetOptions> ResolveAsync(TargetArguments arguments, Func<string, string?> environment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentNullException.ThrowIfNull(environment);
        IReadOnlyDictionary<string, string> azd = new Dictionary<string, string>();
        if (arguments.EnvFile is { } file)
        {
            if (!file.Exists)
            {
                throw new CliException(ExitCode.Usage, $"--env-file: no such file '{file.FullName}'.");
            }

            azd = ParseEnvValues(await File.ReadAllTextAsync(file.FullName, cancellationToken).ConfigureAwait(false));
        }
        else if (arguments.Azd)
        {
            azd = ParseEnvValues(await RunAzdAsync(cancellationToken).ConfigureAwait(false));
        }

        var account = arguments.Account ?? (arguments.ConnectionString is null ? azd.GetValueOrDefault("AZURE_STORAGE_ACCOUNT_NAME") : null);
        var options = new TargetOptions
        {
            Account = account,
            ConnectionString = account is null
                ? arguments.ConnectionString ?? NonEmpty(environment("AZURE_STORAGE_CONNECTION_STRING")) ?? TargetOptions.DevelopmentStorage
                : arguments.ConnectionString,
            BlobEndpoint = account is not null && arguments.Account is null && azd.GetValueOrDefault("AZURE_STORAGE_BLOB_ENDPOINT") is { Length: > 0 } endpoint
                ? ParseUri(endpoint, "AZURE_STORAGE_BLOB_ENDPOINT")
                : null,
            Key = arguments.Key ?? NonEmpty(environment("PIPELINE_KEY")),
            AdminKey = arguments.AdminKey ?? NonEmpty(environment("PIPELINE_ADMIN_KEY")),
        };
        var servingUrl = arguments.ServingUrl ?? NonEmpty(environment("PIPELINE_SERVING_URL")) ?? azd.GetValueOrDefault("SERVING_APP_URL");
        options.ServingUrl = servingUrl is not null ? ParseUri(servingUrl, "--serving-url") : options.IsAzure ? null : TargetOptions.LocalServingUrl;
        if (!options.IsAzure)
        {
            options.Key ??= TargetOptions.LocalKey;
        }

        // Locally the serving app checks one key for every call, SetCurrent included.
        options.AdminKey ??= options.IsAzure ? null : options.Key;
        if (options.BlobEndpoint is null && options.Account is { } name)
        {
            options.BlobEndpoint = new Uri($"https://{name}.blob.core.windows.net");
        }

        options.EnsureValid();
        return options;
    }

    /// <summary>Reads <c>KEY="value"</c> lines as <c>azd env get-values</c> prints them (quotes optional, <c>#</c> comments).</summary>
    public static IReadOnlyDictionary<string, string> ParseEnvValues(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("export ", StringComparison.Ordinal))
            {
                line = line[7..].TrimStart();
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (line.Length == 0 || line[0] == '#' || equals <= 0)
            {
                continue;
            }

            var value = line[(equals + 1)..].Trim();
            if (value.Length >= 2 && (value[0] == '"' && value[^1] == '"' || value[0] == '\'' && value[^1] == '\''))
            {
                value = value[1..^1].Replace("\\\"", "\"", StringComparison.Ordinal);
            }

            values[line[..equals].Trim()] = value;
        }

        return values;
    }

    private static async Task<string> RunAzdAsync(CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("azd") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("env");
        start.ArgumentList.Add("get-values");
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new CliException(ExitCode.Usage, "--azd: 'azd' could not be started.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new CliException(ExitCode.Usage, $"--azd: 'azd' could not be started ({e.Message}). Install the Azure Developer CLI, or pass --env-file with the output of 'azd env get-values'.", e);
        }

        using (process)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(AzdTimeout);
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var error = process.StandardError.ReadToEndAsync(timeout.Token);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                throw new CliException(ExitCode.Usage, $"--azd: 'azd env get-values' did not finish within {AzdTimeout.TotalSeconds:0} s.");
            }

            if (process.ExitCode != 0)
            {
                throw new CliException(ExitCode.Usage, $"--azd: 'azd env get-values' failed (exit code {process.ExitCode}): {(await error.ConfigureAwait(false)).Trim()}");
            }

            return await output.ConfigureAwait(false);
        }
    }

    private static Uri ParseUri(string value, string source) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) ? uri : throw new CliException(ExitCode.Usage, $"{source} must be an absolute URL, not '{value}'.");

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
