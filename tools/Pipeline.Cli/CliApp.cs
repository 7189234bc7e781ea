using System.CommandLine;
using System.Text.Json.Nodes;
using Azure;
using Azure.Identity;
using Pipeline.Cli.Commands;
using Pipeline.Cli.Output;
using Pipeline.Cli.Target;

namespace Pipeline.Cli;

/// <summary>What a command's action gets: the host, its output, the target's clients.</summary>
public sealed class CommandContext(CliHost host, CliOutput output, PipelineTarget target)
{
    public CliHost Host { get; } = host;

    public CliOutput Output { get; } = output;

    public PipelineTarget Target { get; } = target;
}

/// <summary>
/// The command line of <c>pipeline</c>: the commands, the target options every command takes, and one place that turns
/// failures into a message and an <see cref="ExitCode"/>.
/// </summary>
public static class CliApp
{
    public static readonly Option<string?> ConnectionString = new("--connection-string")
    {
        Description = "Storage connection string (default: AZURE_STORAGE_CONNECTION_STRING, else Azurite's UseDevelopmentStorage=true).",
        Recursive = true,
    };

    public static readonly Option<string?> Account = new("--account")
    {
        Description = "Azure storage account name, used with your signed-in identity (az login / azd auth login).",
        Recursive = true,
    };

    public static readonly Option<string?> ServingUrl = new("--serving-url")
    {
        Description = "Serving app URL (default: PIPELINE_SERVING_URL, azd's SERVING_APP_URL, else http://127.0.0.1:7071).",
        Recursive = true,
    };

    public static readonly Option<string?> Key = new("--key")
    {
        Description = "Function key for the serving app (default: PIPELINE_KEY; locally local-development-key).",
        Recursive = true,
    };

    public static readonly Option<string?> AdminKey = new("--admin-key")
    {
        Description = "Admin (master) key for rollback and promote (default: PIPELINE_ADMIN_KEY; locally the function key).",
        Recursive = true,
    };

    public static readonly Option<FileInfo?> EnvFile = new("--env-file")
    {
        Description = "Read AZURE_STORAGE_ACCOUNT_NAME and SERVING_APP_URL from a file of 'azd env get-values' output.",
        Recursive = true,
    };

    public static readonly Option<bool> Azd = new("--azd")
    {
        Description = "Run 'azd env get-values' and use the deployed environment's storage account and serving URL.",
        Recursive = true,
    };

    public static RootCommand CreateRoot(CliHost host)
    {
        var root = new RootCommand("Upload data to the serverless ML pipeline, follow it to a served model, and operate the models (docs/cli.md).");
        foreach (var option in new Option[] { ConnectionString, Account, ServingUrl, Key, AdminKey, EnvFile, Azd })
        {
            root.Options.Add(option);
        }

        root.Subcommands.Add(UploadCommand.Create(host));
        root.Subcommands.Add(StatusCommand.Create(host));
        root.Subcommands.Add(ModelsCommand.Create(host));
        root.Subcommands.Add(RunsCommand.Create(host));
        root.Subcommands.Add(ReportCommand.Create(host));
        root.Subcommands.Add(PredictCommand.Create(host));
        root.Subcommands.Add(PointerCommands.Create(host, PointerCommands.Kind.Rollback));
        root.Subcommands.Add(PointerCommands.Create(host, PointerCommands.Kind.Promote));
        root.Subcommands.Add(RejectionsCommand.Create(host));
        root.Subcommands.Add(DriftCommand.Create(host));
        root.Subcommands.Add(ScoringCommand.Create(host));
        return root;
    }

    public static async Task<int> RunAsync(string[] args, CliHost host, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        var parsed = CreateRoot(host).Parse(args);
        var configuration = new InvocationConfiguration { Output = host.Out, Error = host.Error, EnableDefaultExceptionHandler = false };
        var code = await parsed.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
        return parsed.Errors.Count > 0 ? (int)ExitCode.Usage : code;
    }

    /// <summary>The option every command but <c>predict</c> takes (predict's output is CSV or JSON Lines already).</summary>
    public static Option<bool> JsonOption() => new("--json") { Description = "Write one JSON document to standard output, for scripts." };

    /// <summary>Runs a command's action: resolves and validates the target, then maps every failure to a message and an exit code.</summary>
    public static async Task<int> HandleAsync(CliHost host, ParseResult parse, bool json, Func<CommandContext, CancellationToken, Task<ExitCode>> action, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(action);
        var output = new CliOutput(host, json);
        PipelineTarget? target = null;
        try
        {
            var options = await TargetResolver.ResolveAsync(new TargetArguments(
                parse.GetValue(ConnectionString), parse.GetValue(Account), parse.GetValue(ServingUrl), parse.GetValue(Key), parse.GetValue(AdminKey),
                parse.GetValue(EnvFile), parse.GetValue(Azd)), host.Environment, cancellationToken).ConfigureAwait(false);
            target = new PipelineTarget(options);
            return (int)await action(new CommandContext(host, output, target), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Translate(e, target, cancellationToken) is { } failure)
        {
            WriteError(output, failure);
            return (int)failure.Code;
        }
        finally
        {
            target?.Dispose();
        }
    }

    public static void WriteError(CliOutput output, CliException failure)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(failure);
        if (output.Json)
        {
            output.Host.Error.WriteLine(new JsonObject { ["error"] = failure.Kind, ["exitCode"] = (int)failure.Code, ["message"] = failure.Message }.ToJsonString(CliOutput.Indented));
        }
        else
        {
            output.Host.Error.WriteLine($"error: {failure.Message}");
        }
    }

    /// <summary>The failure as the user should read it; null for exceptions that are bugs (they propagate with their stack).</summary>
    internal static CliException? Translate(Exception exception, PipelineTarget? target, CancellationToken cancellationToken)
    {
        var storage = target?.StorageDescription ?? "storage";
        return exception switch
        {
            CliException cli => cli,
            OperationCanceledException when cancellationToken.IsCancellationRequested => new CliException(ExitCode.Canceled, "Canceled."),
            AuthenticationFailedException or CredentialUnavailableException => new CliException(ExitCode.Unauthorized,
                $"No Azure credential for {storage}: sign in with 'az login' (or 'azd auth login'), or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET. ({First(exception.Message)})", exception),
            RequestFailedException { Status: 401 or 403 } e => new CliException(ExitCode.Unauthorized,
                $"{storage} refused the request ({e.Status} {e.ErrorCode}). Locally check --connection-string; in Azure your identity needs a Storage Blob Data role on the containers (docs/cli.md).", e),
            RequestFailedException { Status: 0 } or AggregateException { InnerExceptions: [RequestFailedException { Status: 0 } or HttpRequestException, ..] } => new CliException(ExitCode.Unreachable,
                $"{storage} could not be reached ({First(Innermost(exception).Message)}). Is Azurite running (./run-local.sh or scripts/azurite.sh start), and is the connection string or --account right?", exception),
            RequestFailedException e => new CliException(ExitCode.Failed, $"{storage} answered {e.Status} {e.ErrorCode}: {First(e.Message)}", e),
            _ => null,
        };
    }

    private static Exception Innermost(Exception exception)
    {
        while (exception is AggregateException { InnerExceptions.Count: > 0 } aggregate)
        {
            exception = aggregate.InnerExceptions[^1];
        }

        while (exception is RequestFailedException { InnerException: { } inner })
        {
            exception = inner;
        }

        return exception;
    }

    private static string First(string message) => message.Split('\n')[0].Trim();
}
