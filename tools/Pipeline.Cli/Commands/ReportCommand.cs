using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Azure;
using Pipeline.Cli.Output;
using Spectre.Console;
using Pipeline.Storage;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>pipeline report MODEL [--version V] [--out DIR] [--open]</c>: downloads a model version's training report
/// (<c>report.md</c> and the plots the manifest lists) from <c>models/{model}/{version}/</c>.
/// </summary>
public static class ReportCommand
{
    public static Command Create(CliHost host)
    {
        var model = new Argument<string>("model") { Description = "Model name." };
        var version = new Option<string?>("--version") { Description = "Model version (default: the current one)." };
        var output = new Option<DirectoryInfo?>("--out", "-o") { Description = "Folder to write to (default: ./{model}-{version}-report)." };
        var open = new Option<bool>("--open") { Description = "Open report.md afterwards ($BROWSER, else xdg-open or open)." };
        var json = CliApp.JsonOption();
        var command = new Command("report", "Download a model version's training report and plots.") { model, version, output, open, json };
        command.SetAction((parse, cancellationToken) => CliApp.HandleAsync(host, parse, parse.GetValue(json), async (context, token) =>
        {
            var name = Names.Require(parse.GetRequiredValue(model), "model");
            var store = context.Target.Store;
            var chosen = parse.GetValue(version) ?? await store.ReadCurrentVersionAsync(name, token).ConfigureAwait(false)
                ?? throw ((await store.ListModelsAsync(token).ConfigureAwait(false)).Contains(name)
                    ? new CliException(ExitCode.NotFound, $"Model '{name}' has no current version; name one with --version ('pipeline status' or GET /api/models/{name} lists them).")
                    : Names.NoModel(name));
            var manifest = await store.ReadModelManifestAsync(name, chosen, token).ConfigureAwait(false)
                ?? throw new CliException(ExitCode.NotFound, $"Model '{name}' has no version '{chosen}' with a manifest.");
            if (manifest.Report.Count == 0)
            {
                throw new CliException(ExitCode.NotFound, $"Model '{name}' version {chosen} has no training report (models/{name}/{chosen}/ lists no report files).");
            }

            var folder = parse.GetValue(output) ?? new DirectoryInfo($"{name}-{chosen}-report");
            folder.Create();
            var written = new List<string>();
            foreach (var file in manifest.Report)
            {
                // Names come from the manifest: keep them inside the folder.
                var local = Path.Combine(folder.FullName, Path.GetFileName(file));
                try
                {
                    await store.Models.GetBlobClient(StorageNames.VersionFilePath(name, chosen, file)).DownloadToAsync(local, token).ConfigureAwait(false);
                }
                catch (RequestFailedException e) when (e.Status == 404)
                {
                    throw new CliException(ExitCode.NotFound, $"models/{StorageNames.VersionFilePath(name, chosen, file)} is listed in the manifest but does not exist.", e);
                }

                written.Add(local);
            }

            var report = written.FirstOrDefault(f => Path.GetFileName(f) == StorageNames.TrainingReportFile) ?? written[0];
            string? opened = null;
            if (parse.GetValue(open))
            {
                opened = Open(context.Host, report);
            }

            if (context.Output.Json)
            {
                context.Output.WriteJson(new JsonObject
                {
                    ["model"] = name, ["version"] = chosen, ["folder"] = folder.FullName,
                    ["files"] = new JsonArray([.. written.Select(f => (JsonNode)f)]), ["openedWith"] = opened,
                });
            }
            else
            {
                context.Output.Console.MarkupLine($"report of model [bold]{CliOutput.E(name)}[/] version [bold]{CliOutput.E(chosen)}[/]: {written.Count} files in {CliOutput.E(folder.FullName)}");
                foreach (var file in written)
                {
                    context.Output.Console.MarkupLine($"  {CliOutput.E(file)}");
                }
            }

            return ExitCode.Success;
        }, cancellationToken));
        return command;
    }

    /// <summary>Starts the viewer on <paramref name="file"/>: <c>$BROWSER</c>, else the desktop's opener. Returns the program used.</summary>
    private static string Open(CliHost host, string file)
    {
        var program = host.Environment("BROWSER") is { Length: > 0 } browser ? browser : OperatingSystem.IsMacOS() ? "open" : "xdg-open";
        var start = new ProcessStartInfo(program) { UseShellExecute = false };
        start.ArgumentList.Add(file);
        try
        {
            using var process = Process.Start(start);
            return program;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new CliException(ExitCode.Failed, $"The report was downloaded to {file}, but '{program}' could not open it ({e.Message}); set BROWSER to a viewer.", e);
        }
    }
}
