using System.Text.Json;

namespace Pipeline.LocalHost;

/// <summary>What the Functions host reads from a function app folder: host.json and each <c>{Function}/function.json</c>.</summary>
public sealed class FunctionApp
{
    public required string Path { get; init; }

    public required string ExecutablePath { get; init; }

    public required IReadOnlyList<string> Arguments { get; init; }

    public required TimeSpan FunctionTimeout { get; init; }

    public required int MaxDequeueCount { get; init; }

    public required TimeSpan VisibilityTimeout { get; init; }

    public required int BatchSize { get; init; }

    public required IReadOnlyList<QueueFunction> QueueFunctions { get; init; }

    public static FunctionApp Load(string path)
    {
        var hostJsonPath = System.IO.Path.Combine(path, "host.json");
        if (!File.Exists(hostJsonPath))
        {
            throw new FileNotFoundException($"No host.json in {path}: point FunctionsHost:AppPath at the functions app's build output.", hostJsonPath);
        }

        using var host = JsonDocument.Parse(File.ReadAllText(hostJsonPath));
        var root = host.RootElement;
        var description = root.GetProperty("customHandler").GetProperty("description");
        var queues = root.TryGetProperty("extensions", out var ext) && ext.TryGetProperty("queues", out var q) ? q : default;

        var functions = new List<QueueFunction>();
        foreach (var file in Directory.GetFiles(path, "function.json", SearchOption.AllDirectories))
        {
            var name = System.IO.Path.GetFileName(System.IO.Path.GetDirectoryName(file)!);
            using var function = JsonDocument.Parse(File.ReadAllText(file));
            var bindings = function.RootElement.GetProperty("bindings").EnumerateArray().ToList();
            var trigger = bindings.FirstOrDefault(b => b.GetProperty("type").GetString() == "queueTrigger");
            if (trigger.ValueKind == JsonValueKind.Undefined)
            {
                continue;
            }

            functions.Add(new QueueFunction(
                name,
                trigger.GetProperty("name").GetString()!,
                trigger.GetProperty("queueName").GetString()!,
                bindings.Where(b => b.GetProperty("type").GetString() == "queue" && b.GetProperty("direction").GetString() == "out")
                    .Select(b => new QueueOutput(b.GetProperty("name").GetString()!, b.GetProperty("queueName").GetString()!)).ToList()));
        }

        return new FunctionApp
        {
            Path = path,
            ExecutablePath = ResolveExecutable(path, description.GetProperty("defaultExecutablePath").GetString()!),
            Arguments = description.TryGetProperty("arguments", out var args) ? args.EnumerateArray().Select(a => a.GetString()!).ToList() : [],
            FunctionTimeout = root.TryGetProperty("functionTimeout", out var timeout) ? TimeSpan.Parse(timeout.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : TimeSpan.FromMinutes(30),
            MaxDequeueCount = queues.ValueKind == JsonValueKind.Object && queues.TryGetProperty("maxDequeueCount", out var max) ? max.GetInt32() : 5,
            VisibilityTimeout = queues.ValueKind == JsonValueKind.Object && queues.TryGetProperty("visibilityTimeout", out var vis) ? TimeSpan.Parse(vis.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : TimeSpan.Zero,
            BatchSize = queues.ValueKind == JsonValueKind.Object && queues.TryGetProperty("batchSize", out var batch) ? batch.GetInt32() : 16,
            QueueFunctions = functions,
        };
    }

    /// <summary>A file in the app folder, as the host resolves it, else a command on PATH (such as <c>dotnet</c>).</summary>
    private static string ResolveExecutable(string appPath, string executable)
    {
        var local = System.IO.Path.Combine(appPath, executable);
        return File.Exists(local) ? local : executable;
    }
}

public sealed record QueueFunction(string Name, string TriggerBinding, string QueueName, IReadOnlyList<QueueOutput> Outputs);

public sealed record QueueOutput(string Binding, string QueueName);
