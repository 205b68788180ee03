/** Messages shown at the top of the page: errors the user should know about, and recoveries. */
export class ErrorList {
  constructor(private readonly root: HTMLElement) {}

  show(message: string, level: 'error' | 'info' = 'error'): void {
    const item = document.createElement('div');
    item.className = `message ${level}`;
    const text = document.createElement('p');
    text.textContent = message;
    const close = document.createElement('button');
    close.type = 'button';
    close.textContent = 'Dismiss';
    close.setAttribute('aria-label', `Dismiss: ${message}`);
    close.addEventListener('click', () => item.remove());
    item.append(text, close);
    this.root.append(item);
  }

  clear(): void {
    this.root.replaceChildren();
  }
}
