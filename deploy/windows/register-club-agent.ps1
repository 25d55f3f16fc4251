<#
.SYNOPSIS
Registers the Kassa club agent (`kassa club-agent`: the watchdog, which starts the lock screen
and keeps it alive) as a scheduled task started at logon, with highest privileges, and started
again if it fails. docs/club-agent.md, "Start it at logon".

.DESCRIPTION
Run once, in an elevated PowerShell, on each club PC:

    powershell -ExecutionPolicy Bypass -File register-club-agent.ps1 -User PC-01\player

It makes the agent's folder (its .env, lease, journal and logs; %ProgramData%\Kassa\club-agent
unless -Folder says otherwise) writable by that account, and registers the task. Run it again
to change the task (it replaces it); remove it with
`Unregister-ScheduledTask -TaskName "Kassa club agent"`.

.PARAMETER User
The Windows account the club's customers use on this PC (default: the current one).

.PARAMETER Kassa
kassa.exe (default: the one on PATH, as `pip install "kassa[club-agent]"` puts it in
Python's Scripts folder), or a packaged build's executable.

.PARAMETER Folder
The agent's folder: the task's working directory, where its .env is read from.
#>
param(
    [string]$User = "$env:USERDOMAIN\$env:USERNAME",
    [string]$Kassa = "",
    [string]$Folder = (Join-Path $env:ProgramData "Kassa\club-agent"),
    [string]$TaskName = "Kassa club agent"
)
$ErrorActionPreference = "Stop"

if (-not $Kassa) { $Kassa = (Get-Command kassa.exe).Source }
if (-not (Test-Path $Kassa)) { throw "kassa.exe not found: $Kassa" }
New-Item -ItemType Directory -Force -Path $Folder | Out-Null
# The agent runs as the customers' account: it writes its lease, journal and logs here.
icacls $Folder /grant "${User}:(OI)(CI)M" | Out-Null
if (-not (Test-Path (Join-Path $Folder ".env"))) {
    Write-Warning "No .env in $Folder yet: copy club-agent.env.example there as .env and fill it in."
}

$action = New-ScheduledTaskAction -Execute $Kassa -Argument "club-agent" -WorkingDirectory $Folder
$trigger = New-ScheduledTaskTrigger -AtLogOn -User $User
# Highest: elevated when the account is an administrator, so a Task Manager the customer opens
# (not elevated) cannot end the agent.
$principal = New-ScheduledTaskPrincipal -UserId $User -LogonType Interactive -RunLevel Highest
# Started again every minute if it fails; never stopped for running long or on batteries.
$settings = New-ScheduledTaskSettingsSet `
    -RestartCount 999 -RestartInterval (New-TimeSpan -Minutes 1) `
    -ExecutionTimeLimit ([TimeSpan]::Zero) -MultipleInstances IgnoreNew `
    -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries -StartWhenAvailable

Register-ScheduledTask -TaskName $TaskName -Force `
    -Description "Kassa club agent: the lock screen and launcher, kept alive by its watchdog." `
    -Action $action -Trigger $trigger -Principal $principal -Settings $settings | Out-Null
Write-Host "Registered '$TaskName': $Kassa club-agent at $User's logon, in $Folder."
