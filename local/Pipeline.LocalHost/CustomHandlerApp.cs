using System.Text.Json;

namespace Pipeline.LocalHost;

/// <summary>What the Functions host reads to start a custom handler (the serving app): host.json <c>customHandler.description</c>.</summary>
public sealed record CustomHandlerApp(string Path, string ExecutablePath, IReadOnlyList<string> Arguments)
{
    public static CustomHandlerApp Load(string path)
    {
        var hostJsonPath = System.IO.Path.Combine(path, "host.json");
        if (!File.Exists(hostJsonPath))
        {
            throw new FileNotFoundException($"No host.json in {path}: point LocalHost:ServingAppPath at the serving app's build output.", hostJsonPath);
        }

        using var host = JsonDocument.Parse(File.ReadAllText(hostJsonPath));
        if (!host.RootElement.TryGetProperty("customHandler", out var handler) || !handler.TryGetProperty("description", out var description))
        {
            throw new InvalidOperationException($"{hostJsonPath} has no customHandler.description: it is not a custom-handler app.");
        }

        var executable = description.GetProperty("defaultExecutablePath").GetString()!;
        var local = System.IO.Path.Combine(path, executable);
        return new CustomHandlerApp(
            path,
            File.Exists(local) ? local : executable, // a file in the app folder, as the host resolves it, else a command on PATH
            description.TryGetProperty("arguments", out var args) ? [.. args.EnumerateArray().Select(a => a.GetString()!)] : []);
    }
}
